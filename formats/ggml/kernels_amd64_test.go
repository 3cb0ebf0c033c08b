package ggml

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/cpu"

	"mlmf/formats"
)

// setAVX2 selects the AVX2 kernels (where the CPU has them) or the
// fallback, and returns what restores the previous choice.
func setAVX2(on bool) (restore func()) {
	saved := useAVX2
	useAVX2 = on && cpu.X86.HasAVX2
	return func() { useAVX2 = saved }
}

// withAVX2 runs f with the AVX2 kernels on (when the CPU has them) and off.
func withAVX2(t *testing.T, f func(t *testing.T)) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, on := range []bool{true, false} {
		if on && !saved {
			continue
		}
		useAVX2 = on
		name := "sse2"
		if on {
			name = "avx2"
		}
		t.Run(name, f)
	}
}

// TestTrialsAVX2 checks the AVX2 trial kernels against the generic ones
// (built on the four-lane kernels TestKernels checks), bit for bit.
func TestTrialsAVX2(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(26, 27))
	val := func() float32 {
		switch r.IntN(14) {
		case 0:
			return 0
		case 1:
			return float32(math.NaN())
		case 2:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			return float32(r.NormFloat64() * 1e7)
		case 4:
			return math.Float32frombits(r.Uint32())
		}
		return float32(r.NormFloat64())
	}
	eq := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
	}
	for iter := 0; iter < 30000; iter++ {
		n := 1 + r.IntN(32)
		hostile := r.IntN(4) == 0
		x, xm, w, wv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		mn := float32(0)
		for i := range x {
			if hostile {
				x[i], w[i], wv[i] = val(), abs32(val()), val()
			} else {
				x[i] = float32(r.NormFloat64())
				w[i] = abs32(x[i]) + 0.5
				wv[i] = w[i] * x[i]
			}
			mn = min(mn, x[i])
		}
		mx := mn
		for i := range x {
			xm[i] = x[i] - mn
			mx = max(mx, x[i])
		}
		if hostile && r.IntN(2) == 0 {
			for i := range xm {
				xm[i] = val()
			}
		}
		var num [8]float32
		nm := int32(1 + r.IntN(40))
		for j := range num {
			num[j] = float32(nm) - 1 + 0.1*float32(j)
			if hostile && r.IntN(3) == 0 {
				num[j] = val()
			}
		}
		den := mx - mn
		var sumW, sumX float32
		for i := range x {
			sumW += w[i]
			sumX += float32(w[i] * x[i])
		}
		if hostile && r.IntN(2) == 0 {
			den, sumW, sumX = val(), val(), val()
		}
		mad := r.IntN(2) == 0
		var a, b qkxRes8
		useAVX2 = true
		qkxTrials8(x, xm, w, &num, den, sumW, sumX, nm, mad, &a)
		useAVX2 = false
		qkxTrials8(x, xm, w, &num, den, sumW, sumX, nm, mad, &b)
		useAVX2 = true
		if a.ok != b.ok {
			t.Fatalf("qkxTrials8 ok %08b, generic %08b", a.ok, b.ok)
		}
		for j := 0; j < 8; j++ {
			if !eq(a.isc[j], b.isc[j]) {
				t.Fatalf("qkxTrials8 lane %d isc %v, generic %v", j, a.isc[j], b.isc[j])
			}
			if a.ok&(1<<j) != 0 && (!eq(a.ts[j], b.ts[j]) || !eq(a.tm[j], b.tm[j]) || !eq(a.err[j], b.err[j])) {
				t.Fatalf("qkxTrials8 lane %d (mad %v): ts %v tm %v err %v, generic %v %v %v",
					j, mad, a.ts[j], a.tm[j], a.err[j], b.ts[j], b.tm[j], b.err[j])
			}
		}

		var qnum [24]float32
		for j := range qnum {
			qnum[j] = -(float32(nm) + 0.1*float32(j-12))
			if hostile && r.IntN(3) == 0 {
				qnum[j] = val()
			}
		}
		qmax := mx
		if -mn > mx {
			qmax = mn
		}
		if hostile && r.IntN(2) == 0 {
			qmax = val()
		}
		var c, d qxRes24
		useAVX2 = true
		qxTrials24(x, w, wv, &qnum, qmax, nm, &c)
		useAVX2 = false
		qxTrials24(x, w, wv, &qnum, qmax, nm, &d)
		useAVX2 = true
		for j := 0; j < 24; j++ {
			if !eq(c.is[j], d.is[j]) || !eq(c.sumlx[j], d.sumlx[j]) || !eq(c.suml2[j], d.suml2[j]) {
				t.Fatalf("qxTrials24 lane %d: %v %v %v, generic %v %v %v", j,
					c.is[j], c.sumlx[j], c.suml2[j], d.is[j], d.sumlx[j], d.suml2[j])
			}
		}
	}
}

// TestGoldenKernels quantizes every golden vector with the AVX2 kernels and
// with the SSE2 fallback (TestGolden, in parallel, uses whichever the CPU
// selects).
func TestGoldenKernels(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil {
		t.Fatal(err)
	}
	withAVX2(t, func(t *testing.T) {
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			dt, err := formats.ParseDType(g.Type)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if g.Input == "" {
				continue
			}
			t.Run(g.Type, func(t *testing.T) { checkGoldenQuant(t, g, dt) })
		}
	})
}

// TestQKXGroups8 checks the eight-group make_qkx kernel against
// makeQKXQuants run group by group, bit for bit, for the parameters the
// K-quants use, on ordinary and hostile groups.
func TestQKXGroups8(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(28, 29))
	val := func() float32 {
		switch r.IntN(16) {
		case 0:
			return 0
		case 1:
			return float32(math.NaN())
		case 2:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			return float32(r.NormFloat64() * 1e30)
		case 4:
			return float32(r.NormFloat64() * 1e-40)
		case 5:
			return float32(math.Copysign(0, -1))
		}
		return float32(r.NormFloat64())
	}
	type params struct {
		n, nmax      int
		rmin, rdelta float32
		nstep        int
		mad, qkx3    bool
	}
	ps := []params{
		{32, 15, -1, 0.1, 20, false, false}, {32, 31, -0.5, 0.1, 15, false, false},
		{32, 15, -0.9, 0.05, 36, false, true}, {32, 31, -0.9, 0.05, 36, false, true},
		{16, 3, -0.5, 0.1, 15, true, false}, {16, 3, -0.9, 0.05, 36, false, true},
		{5, 7, -1, 0.1, 1, true, true},
	}
	var st qkxGroups8
	for iter := 0; iter < 6000; iter++ {
		p := ps[iter%len(ps)]
		n := p.n
		x, w := make([]float32, 8*n), make([]float32, 8*n)
		for j := 0; j < 8; j++ {
			kind := r.IntN(8)
			scale := float32(math.Pow(10, r.Float64()*8-4))
			off := float32(r.NormFloat64()) * scale * float32(r.IntN(3))
			for i := 0; i < n; i++ {
				v := float32(r.NormFloat64())*scale + off
				switch kind {
				case 0:
					v = val()
				case 1:
					v = scale // flat
				case 2:
					if r.IntN(6) == 0 {
						v = val()
					}
				case 3:
					v = abs32(v)
				}
				x[n*j+i] = v
				w[n*j+i] = abs32(v) + float32(r.ExpFloat64())
				if kind == 4 {
					w[n*j+i] = abs32(val())
				}
			}
		}
		var s1, m1, s2, m2 [8]float32
		L1, L2 := make([]uint8, 8*n), make([]uint8, 8*n)
		for k := range L2 {
			L2[k] = 0xee
		}
		useAVX2 = true
		if makeQKXQuants8(n, p.nmax, x, w, L1, p.rmin, p.rdelta, p.nstep, p.mad, p.qkx3, &st, &s1, &m1) {
			for j := 0; j < 8; j++ {
				st.levels(j, n, L1[n*j:])
			}
		}
		for j := 0; j < 8; j++ {
			s2[j], m2[j] = makeQKXQuants(n, p.nmax, x[n*j:], w[n*j:n*j+n], L2[n*j:], p.rmin, p.rdelta, p.nstep, p.mad, p.qkx3)
		}
		for j := 0; j < 8; j++ {
			same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }
			if !same(s1[j], s2[j]) || !same(m1[j], m2[j]) || string(L1[n*j:n*j+n]) != string(L2[n*j:n*j+n]) {
				t.Fatalf("%+v group %d x=%v w=%v: scale %v min %v L %v, one by one %v %v %v", p, j,
					x[n*j:n*j+n], w[n*j:n*j+n], s1[j], m1[j], L1[n*j:n*j+n], s2[j], m2[j], L2[n*j:n*j+n])
			}
		}
	}
}

// TestQXGroups8 checks the eight-group make_qx_quants kernel against
// makeQXQuants run group by group, bit for bit.
func TestQXGroups8(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(30, 31))
	val := func() float32 {
		switch r.IntN(14) {
		case 0:
			return 0
		case 1:
			return float32(math.NaN())
		case 2:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			return float32(r.NormFloat64() * 1e30)
		case 4:
			return float32(r.NormFloat64() * 1e-40)
		case 5:
			return float32(math.Copysign(0, -1))
		}
		return float32(r.NormFloat64())
	}
	var st qxGroups8
	for iter := 0; iter < 6000; iter++ {
		n := []int{16, 32, 16, 7}[iter%4]
		nmax := []int{32, 4, 8, 16, 3}[iter%5]
		x, qw := make([]float32, 8*n), make([]float32, 8*n)
		for j := 0; j < 8; j++ {
			kind := r.IntN(8)
			scale := float32(math.Pow(10, r.Float64()*10-5))
			if r.IntN(8) == 0 {
				scale = float32(math.Pow(10, -r.Float64()*30))
			}
			for i := 0; i < n; i++ {
				v := float32(r.NormFloat64()) * scale
				switch kind {
				case 0:
					v = val()
				case 1:
					v = scale
				case 2:
					if r.IntN(6) == 0 {
						v = val()
					}
				case 3:
					v = 0
				case 5: // ties of magnitude, of either sign
					v = float32(1-2*r.IntN(2)) * float32(1+r.IntN(2)) * scale
				}
				x[n*j+i] = v
				qw[n*j+i] = float32(r.ExpFloat64())
				if kind == 4 {
					qw[n*j+i] = abs32(val())
				}
			}
		}
		var q []float32
		if iter%2 == 0 {
			q = qw
		}
		var s1, s2 [8]float32
		L1, L2 := make([]int8, 8*n), make([]int8, 8*n)
		if makeQXQuants8(n, nmax, x, L1, q, &st, &s1) {
			for j := 0; j < 8; j++ {
				st.levels(j, n, L1[n*j:])
			}
		}
		for j := 0; j < 8; j++ {
			var qj []float32
			if q != nil {
				qj = q[n*j : n*j+n]
			}
			s2[j] = makeQXQuants(n, nmax, x[n*j:], L2[n*j:], 1, qj)
		}
		for j := 0; j < 8; j++ {
			same := math.Float32bits(s1[j]) == math.Float32bits(s2[j]) || s1[j] != s1[j] && s2[j] != s2[j]
			if !same || string(f32sI8(L1[n*j:n*j+n])) != string(f32sI8(L2[n*j:n*j+n])) {
				t.Fatalf("n %d nmax %d imatrix %v group %d x=%v: scale %v L %v, one by one %v %v", n, nmax, q != nil, j,
					x[n*j:n*j+n], s1[j], L1[n*j:n*j+n], s2[j], L2[n*j:n*j+n])
			}
		}
	}
}

func f32sI8(l []int8) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
}

func TestLevelsDiv(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(32, 33))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1e-40, 1e30, -1e30}
	for iter := 0; iter < 20000; iter++ {
		n := 16 * (1 + r.IntN(2))
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 3)
			if r.IntN(10) == 0 {
				x[i] = specials[r.IntN(len(specials))]
			}
		}
		d := float32(r.ExpFloat64() * 0.3)
		add := float32(0)
		if r.IntN(2) == 0 {
			add = float32(r.ExpFloat64())
		}
		if r.IntN(20) == 0 {
			d = specials[r.IntN(len(specials))]
		}
		lo, hi, off := int32(0), int32(15), int32(0)
		if r.IntN(2) == 0 {
			lo, hi, off = -32, 31, 32
		}
		a, b := make([]uint8, n), make([]uint8, n)
		levelsDiv(x, a, add, d, lo, hi, off)
		levelsDivGo(x, b, add, d, lo, hi, off)
		if string(a) != string(b) {
			t.Fatalf("x=%v add %v d %v [%d,%d]+%d: %v, Go %v", x, add, d, lo, hi, off, a, b)
		}
	}
}
