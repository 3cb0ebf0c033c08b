package ggml

import (
	"math"
	"math/rand/v2"
	"testing"

	"mlmf/formats"
)

// TestKernels checks the dispatched kernels (SSE2 on amd64) against their
// pure-Go definitions, bit for bit, on random and hostile inputs.
func TestKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	val := func() float32 {
		switch r.IntN(12) {
		case 0:
			return 0
		case 1:
			return float32(math.NaN())
		case 2:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			return float32(r.NormFloat64() * 1e7)
		}
		return float32(r.NormFloat64())
	}
	// NaN payloads may differ (x86 returns the first operand's NaN when both
	// are NaN, and operand order is the compiler's choice, in C too); the
	// callers only compare these sums, and every comparison with any NaN is
	// false, so no payload can reach an output.
	eq := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
	}
	for iter := 0; iter < 20000; iter++ {
		n := r.IntN(33)
		x, xm, w, wv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := 0; i < n; i++ {
			x[i], xm[i], w[i], wv[i] = val(), val(), abs32(val()), val()
		}
		var is, ts, tm [4]float32
		for j := range is {
			is[j], ts[j], tm[j] = val(), val(), val()
			if r.IntN(2) == 0 {
				is[j] = float32(r.NormFloat64() * 20)
			}
		}
		nm := int32(1 + r.IntN(40))
		mad := r.IntN(2) == 0
		var a, b [12]float32
		qkxSums4(x, xm, w, &is, nm, &a)
		qkxSums4Go(x, xm, w, &is, nm, &b)
		for k := range a {
			if !eq(a[k], b[k]) {
				t.Fatalf("qkxSums4 lane %d: %v, Go %v", k, a[k], b[k])
			}
		}
		var c, d [4]float32
		qkxErr4(x, xm, w, &is, &ts, &tm, nm, mad, &c)
		qkxErr4Go(x, xm, w, &is, &ts, &tm, nm, mad, &d)
		for k := range c {
			if !eq(c[k], d[k]) {
				t.Fatalf("qkxErr4 lane %d: %v, Go %v", k, c[k], d[k])
			}
		}
		var e, f [8]float32
		qxSums4(x, w, wv, &is, nm, &e)
		qxSums4Go(x, w, wv, &is, nm, &f)
		for k := range e {
			if !eq(e[k], f[k]) {
				t.Fatalf("qxSums4 lane %d: %v, Go %v", k, e[k], f[k])
			}
		}
	}
}

func TestQ4_0Block(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1, -1, 8, -8, math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-40}
	for iter := 0; iter < 50000; iter++ {
		xb := make([]float32, 32)
		scale := float32(math.Pow(10, r.Float64()*60-30))
		for i := range xb {
			if r.IntN(8) == 0 {
				xb[i] = specials[r.IntN(len(specials))]
			} else {
				xb[i] = float32(r.NormFloat64()) * scale
			}
		}
		var a, b [16]byte
		want := q4_0BlockGo(xb, b[:])
		got, ok := q4_0Block(xb, a[:])
		if !ok {
			continue // the caller then uses q4_0BlockGo
		}
		if math.Float32bits(got) != math.Float32bits(want) || a != b {
			t.Fatalf("%v: d %v quants %x, Go d %v quants %x", xb, got, a, want, b)
		}
	}
}

func TestQ8_0Block(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1, -1, 0.5, -0.5, 127, -127, 63.5, -63.5, math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-40, 1e-38}
	fast := 0
	for iter := 0; iter < 100000; iter++ {
		xb := make([]float32, 32)
		scale := float32(math.Pow(10, r.Float64()*80-40))
		for i := range xb {
			switch r.IntN(16) {
			case 0:
				xb[i] = specials[r.IntN(len(specials))]
			case 1:
				// a rounding tie after scaling: amax 127 makes id 1
				xb[i] = float32(r.IntN(254)-127) + 0.5
			default:
				xb[i] = float32(r.NormFloat64()) * scale
			}
		}
		if iter%7 == 0 {
			xb[r.IntN(32)] = 127 // id = 1: halves stay halves
		}
		var a, b [32]byte
		want := q8_0BlockGo(xb, b[:])
		got, ok := q8_0Block(xb, a[:])
		if !ok {
			continue // the caller then uses q8_0BlockGo
		}
		fast++
		if math.Float32bits(got) != math.Float32bits(want) || a != b {
			t.Fatalf("%v: d %v quants %x, Go d %v quants %x", xb, got, a, want, b)
		}
	}
	if fast < 50000 {
		t.Fatalf("only %d blocks took the SSE2 path", fast)
	}
}

// TestHalfRows checks the row converters against the scalar ggml ports on
// random bit patterns (NaNs, infinities, subnormals, rounding ties).
func TestHalfRows(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	x := make([]float32, 1<<16+5)
	for i := range x {
		switch i % 4 {
		case 0:
			x[i] = math.Float32frombits(r.Uint32())
		case 1:
			x[i] = math.Float32frombits(r.Uint32()&0xffff8000 | 0x8000) // ties
		case 2:
			x[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(60)-40)))
		default:
			x[i] = math.Float32frombits(uint32(i) << 13) // every half-ish exponent
		}
	}
	y := make([]byte, 2*len(x))
	quantBF16(y, x, nil)
	for i, v := range x {
		if got, want := le16(y[2*i:]), fp32ToBF16(v); got != want {
			t.Fatalf("bf16(%#08x) = %#04x, want %#04x", math.Float32bits(v), got, want)
		}
	}
	quantF16(y, x, nil)
	for i, v := range x {
		if got, want := le16(y[2*i:]), fp32ToFP16(v); got != want {
			t.Fatalf("f16(%#08x) = %#04x, want %#04x", math.Float32bits(v), got, want)
		}
	}
}

func TestQ4_1Block(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 19))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1, -1, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-40}
	used := 0
	for iter := 0; iter < 50000; iter++ {
		xb := make([]float32, 32)
		scale := float32(math.Pow(10, r.Float64()*60-30))
		off := float32(r.NormFloat64()) * scale * float32(r.IntN(3))
		for i := range xb {
			if r.IntN(10) == 0 {
				xb[i] = specials[r.IntN(len(specials))]
			} else {
				xb[i] = float32(r.NormFloat64())*scale + off
			}
		}
		var a, b [16]byte
		wantD, wantMin := q4_1BlockGo(xb, b[:])
		gotD, gotMin, ok := q4_1Block(xb, a[:])
		if !ok {
			continue
		}
		used++
		if math.Float32bits(gotD) != math.Float32bits(wantD) || math.Float32bits(gotMin) != math.Float32bits(wantMin) || a != b {
			t.Fatalf("%v: d %v min %v quants %x, Go %v %v %x", xb, gotD, gotMin, a, wantD, wantMin, b)
		}
	}
	if used == 0 && littleEndian && q4_1Available {
		t.Fatal("the SSE2 path never ran")
	}
}

func TestQ5Quant(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 21))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-40, math.MaxFloat32}
	for iter := 0; iter < 50000; iter++ {
		x := make([]float32, 32)
		for i := range x {
			if r.IntN(10) == 0 {
				x[i] = specials[r.IntN(len(specials))]
			} else {
				x[i] = float32(r.NormFloat64() * 20)
			}
		}
		sub, id := float32(0), float32(r.NormFloat64())
		add, maxq := float32(16.5), int32(31)
		if r.IntN(2) == 0 {
			sub, add, maxq = float32(r.NormFloat64()*10), 0.5, 127
		}
		var a, b [16]byte
		ga := q5Quant(x, sub, id, add, maxq, a[:])
		gb := q5QuantGo(x, sub, id, add, maxq, b[:])
		if ga != gb || a != b {
			t.Fatalf("%v sub %v id %v: qh %#x qs %x, Go %#x %x", x, sub, id, ga, a, gb, b)
		}
	}
}

// TestF16Dequant: every half, aligned and not, against the scalar port.
func TestF16Dequant(t *testing.T) {
	for off := 0; off < 2; off++ {
		src := make([]byte, 2*65536+off)
		for h := 0; h < 65536; h++ {
			src[off+2*h] = byte(h)
			src[off+2*h+1] = byte(h >> 8)
		}
		y := make([]float32, 65536)
		if err := Dequantize(y, src[off:], formats.F16); err != nil {
			t.Fatal(err)
		}
		for h := range y {
			if got, want := math.Float32bits(y[h]), math.Float32bits(fp16ToFP32(uint16(h))); got != want {
				t.Fatalf("offset %d: half %#04x → %#08x, want %#08x", off, h, got, want)
			}
		}
	}
}

func TestMXFP4Indices(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 23))
	for iter := 0; iter < 20000; iter++ {
		d := e8m0ToFP32Half(uint8(r.IntN(256)))
		var ke [16]float32
		for i, k := range kvaluesMXFP4 {
			ke[i] = float32(k) * d
		}
		x := make([]float32, 32)
		for i := range x {
			switch r.IntN(6) {
			case 0:
				x[i] = ke[r.IntN(16)] * float32(0.5+r.Float64())
			case 1:
				x[i] = math.Float32frombits(r.Uint32())
			default:
				x[i] = float32(r.NormFloat64()) * d * 8
			}
		}
		var idx [32]int32
		mxfp4Indices(x, &ke, &idx)
		for j, v := range x {
			if want := bestIndexMXFP4Full(v, &ke); idx[j] != int32(want) {
				t.Fatalf("x=%v d=%v: index %d, C loop %d", v, d, idx[j], want)
			}
		}
	}
}

func TestIQ4Sums4(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 25))
	for iter := 0; iter < 20000; iter++ {
		n := r.IntN(33)
		x, w := make([]float32, n), make([]float32, n)
		for i := range x {
			switch r.IntN(8) {
			case 0:
				x[i] = float32(kvaluesIQ4NL[r.IntN(16)]) * float32(0.5+r.Float64())
			case 1:
				x[i] = math.Float32frombits(r.Uint32())
			default:
				x[i] = float32(r.NormFloat64() * 3)
			}
			w[i] = float32(r.ExpFloat64())
		}
		var id [4]float32
		for j := range id {
			id[j] = float32(r.NormFloat64() * 50)
		}
		var a, b [8]float32
		iq4Sums4(x, w, &id, &a)
		iq4Sums4Go(x, w, &id, &b)
		for k := range a {
			if math.Float32bits(a[k]) != math.Float32bits(b[k]) && !(a[k] != a[k] && b[k] != b[k]) {
				t.Fatalf("lane %d: %v, Go %v (x=%v id=%v)", k, a[k], b[k], x, id)
			}
		}
	}
}
