package ggml

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"mlmf/formats"
)

func quantTypes() []formats.DType {
	var out []formats.DType
	for _, d := range formats.AllDTypes() {
		if CanQuantize(d) {
			out = append(out, d)
		}
	}
	return out
}

func normalRows(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// TestRoundTripError bounds the relative RMS error of quantize→dequantize on
// Gaussian data, per type. The bounds are a little above what llama.cpp's
// algorithms achieve (measured with this package, which matches them bit for
// bit), so a broken codec fails while a faithful one passes.
func TestRoundTripError(t *testing.T) {
	bound := map[formats.DType]float64{
		formats.F32: 0, formats.F16: 3e-4, formats.BF16: 2.5e-3,
		formats.Q8_0: 0.006, formats.Q4_0: 0.12, formats.Q4_1: 0.11, formats.Q5_0: 0.06, formats.Q5_1: 0.055,
		formats.Q2_K: 0.36, formats.Q3_K: 0.19, formats.Q4_K: 0.1, formats.Q5_K: 0.05, formats.Q6_K: 0.025,
		formats.IQ4_NL: 0.1, formats.IQ4_XS: 0.1, formats.MXFP4: 0.16,
		formats.TQ1_0: 0.85, formats.TQ2_0: 0.85,
	}
	const n = 4096
	x := normalRows(7, 4*n)
	for _, dt := range quantTypes() {
		t.Run(dt.String(), func(t *testing.T) {
			t.Parallel()
			rs, err := RowSize(dt, n)
			if err != nil {
				t.Fatal(err)
			}
			q := make([]byte, 4*rs)
			if err := Quantize(q, x, dt, n, nil); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			if err := Dequantize(y, q, dt); err != nil {
				t.Fatal(err)
			}
			var se, ss float64
			for i := range x {
				d := float64(y[i] - x[i])
				se += d * d
				ss += float64(x[i]) * float64(x[i])
			}
			rel := math.Sqrt(se / ss)
			b, ok := bound[dt]
			if !ok {
				t.Fatalf("no error bound for %v", dt)
			}
			if rel > b {
				t.Errorf("relative RMS error %.4g > %.4g", rel, b)
			}
			t.Logf("%v: relative RMS error %.4g", dt, rel)
		})
	}
}

func TestQuantizeParallelIsDeterministic(t *testing.T) {
	const n = 512
	x := normalRows(3, 37*n)
	im := normalRows(4, n)
	for i := range im {
		im[i] = float32(math.Abs(float64(im[i])))
	}
	for _, dt := range quantTypes() {
		rs, _ := RowSize(dt, n)
		one := make([]byte, 37*rs)
		if err := Quantize(one, x, dt, n, im); err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{2, 3, 8, 64, 0} {
			par := make([]byte, len(one))
			if err := QuantizeParallel(par, x, dt, n, im, w); err != nil {
				t.Fatal(err)
			}
			if string(par) != string(one) {
				t.Fatalf("%v: %d workers changed the output", dt, w)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	x := make([]float32, 512)
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"dequant unsupported", Dequantize(make([]float32, 4), make([]byte, 4), formats.U8), formats.ErrUnsupported},
		{"dequant partial block", Dequantize(make([]float32, 32), make([]byte, 17), formats.Q4_0), formats.ErrCorrupt},
		{"dequant short dst", Dequantize(make([]float32, 31), make([]byte, 18), formats.Q4_0), ErrSize},
		{"dequant long dst", Dequantize(make([]float32, 33), make([]byte, 18), formats.Q4_0), ErrSize},
		{"quant unsupported", Quantize(make([]byte, 1000), x, formats.IQ2_XXS, 256, nil), formats.ErrUnsupported},
		{"quant row not blocks", Quantize(make([]byte, 1000), x, formats.Q4_K, 128, nil), formats.ErrCorrupt},
		{"quant zero row", Quantize(nil, x, formats.Q8_0, 0, nil), ErrSize},
		{"quant negative row", Quantize(nil, x, formats.Q8_0, -32, nil), ErrSize},
		{"quant partial rows", Quantize(make([]byte, 34*16), x[:500], formats.Q8_0, 32, nil), ErrSize},
		{"quant dst", Quantize(make([]byte, 10), x, formats.Q8_0, 256, nil), ErrSize},
		{"quant imatrix", Quantize(make([]byte, 2*144), x, formats.Q4_K, 256, make([]float32, 255)), ErrSize},
		{"rowsize", func() error { _, err := RowSize(formats.Q6_K, 100); return err }(), formats.ErrCorrupt},
		{"rowsize huge", func() error { _, err := RowSize(formats.Q8_K, math.MaxInt-255); return err }(), formats.ErrCorrupt},
		{"rowsize not ggml", func() error { _, err := RowSize(formats.U16, 1); return err }(), formats.ErrUnsupported},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if rs, err := RowSize(formats.Q4_K, 512); err != nil || rs != 288 {
		t.Errorf("RowSize(Q4_K, 512) = %d, %v", rs, err)
	}
	if err := Dequantize(nil, nil, formats.Q4_K); err != nil {
		t.Errorf("empty input: %v", err)
	}
}

// TestFP16 checks the bit-level fp16 conversions against float64 arithmetic
// for all 65536 halves, and fp32→fp16→fp32 rounding on random floats.
func TestFP16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&31, h&1023
		got := fp16ToFP32(uint16(h))
		var want float64
		switch {
		case e == 31 && m != 0:
			if !math.IsNaN(float64(got)) || math.Float32bits(got)&0x400000 == 0 ||
				math.Float32bits(got)>>31 != uint32(s) || (math.Float32bits(got)>>13)&1023 != uint32(m|0x200) {
				t.Fatalf("%#04x: NaN became %#08x", h, math.Float32bits(got))
			}
			continue
		case e == 31:
			want = math.Inf(1)
		case e == 0:
			want = math.Ldexp(float64(m), -24)
		default:
			want = math.Ldexp(float64(1024+m), e-25)
		}
		if s == 1 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("%#04x: %v, want %v", h, got, want)
		}
		if e != 31 || m == 0 {
			if back := fp32ToFP16(got); back != uint16(h) {
				t.Fatalf("%#04x round trip gave %#04x", h, back)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1e6; i++ {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			if h := fp32ToFP16(f); h&0x7fff != 0x7e00 {
				t.Fatalf("NaN %#08x → %#04x", math.Float32bits(f), h)
			}
			continue
		}
		h := fp32ToFP16(f)
		if math.Abs(float64(f)) >= 65520 { // past the largest half by half an ulp
			if h&0x7fff != 0x7c00 {
				t.Fatalf("%v → %#04x, want inf", f, h)
			}
			continue
		}
		// nearest-even: no other half is closer
		g := float64(fp16ToFP32(h))
		for _, nb := range []uint16{h + 1, h - 1} {
			if nb&0x7c00 == 0x7c00 && nb&0x3ff != 0 {
				continue
			}
			o := float64(fp16ToFP32(nb))
			if math.Abs(o-float64(f)) < math.Abs(g-float64(f)) {
				t.Fatalf("%v → %v, but %v is closer", f, g, o)
			}
		}
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct{ in, want uint32 }{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie to even
		{0x3f818000, 0x3f82}, // tie to even (up)
		{0x3f808001, 0x3f81},
		{0x7f800001, 0x7fc0}, // NaN made quiet, payload's top kept
		{0xff812345, 0xffc1},
		{0x7f7fffff, 0x7f80}, // rounds to inf
	} {
		if got := fp32ToBF16(math.Float32frombits(c.in)); uint32(got) != c.want {
			t.Errorf("bf16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestNearestInt(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int32
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {3.49, 3}, {-4194303, -4194303}} {
		if got := nearestInt(c.in); got != c.want {
			t.Errorf("nearestInt(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestCvtt(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		in   float32
		want int32
	}{{1.9, 1}, {-1.9, -1}, {-0.5, 0}, {2147483520, 2147483520}, {-2147483648, math.MinInt32},
		{2147483648, math.MinInt32}, {-3e9, math.MinInt32}, {nan, math.MinInt32},
		{float32(math.Inf(1)), math.MinInt32}, {float32(math.Inf(-1)), math.MinInt32}} {
		if got := cvtt(c.in); got != c.want {
			t.Errorf("cvtt(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestBestIndexMXFP4Shortcut compares the shortened candidate scan with the
// full C loop over every block exponent and many values, ties included.
func TestBestIndexMXFP4Shortcut(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for e := 0; e < 256; e++ {
		d := e8m0ToFP32Half(uint8(e))
		var ke [16]float32
		for i, k := range kvaluesMXFP4 {
			ke[i] = float32(k) * d
		}
		xs := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		for i := range ke {
			for _, f := range []float32{0.5, 0.999, 1, 1.001, 1.5} {
				xs = append(xs, ke[i]*f, -ke[i]*f, (ke[i]+ke[(i+1)%16])/2)
			}
		}
		for i := 0; i < 2000; i++ {
			xs = append(xs, float32(r.NormFloat64())*d*float32(1+r.IntN(16)), math.Float32frombits(r.Uint32()))
		}
		for _, x := range xs {
			if a, b := bestIndexMXFP4(x, &ke), bestIndexMXFP4Full(x, &ke); a != b {
				t.Fatalf("e=%d x=%v: %d, C loop %d", e, x, a, b)
			}
		}
	}
}

// TestBlockMaxima checks the branch-free maxima against the C loops they
// replace, on blocks with ties, zeros of both signs, NaNs and infinities.
func TestBlockMaxima(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1, -1, math.MaxFloat32, -math.SmallestNonzeroFloat32}
	for iter := 0; iter < 20000; iter++ {
		n := 1 + r.IntN(40)
		xb := make([]float32, n)
		for i := range xb {
			switch r.IntN(4) {
			case 0:
				xb[i] = specials[r.IntN(len(specials))]
			case 1:
				xb[i] = float32(r.IntN(5) - 2)
			default:
				xb[i] = float32(r.NormFloat64())
			}
		}
		var wantMax, wantAmax, wantC float32
		for _, v := range xb {
			if wantAmax < abs32(v) {
				wantAmax = abs32(v)
				wantMax = v
			}
			wantC = cmax(wantC, abs32(v))
		}
		gotMax, gotAmax := amaxSigned(xb)
		if math.Float32bits(gotMax) != math.Float32bits(wantMax) || gotAmax != wantAmax {
			t.Fatalf("amaxSigned(%v) = %v, %v; C loop %v, %v", xb, gotMax, gotAmax, wantMax, wantAmax)
		}
		if got := absMaxC(xb); math.Float32bits(got) != math.Float32bits(wantC) &&
			!(math.IsNaN(float64(got)) && math.IsNaN(float64(wantC))) {
			t.Fatalf("absMaxC(%v) = %v; C loop %v", xb, got, wantC)
		}
	}
}

// TestUnalignedOutput: destinations at every byte offset give the same bytes
// (the scalar types take a word-at-a-time path when the buffer allows it).
func TestUnalignedOutput(t *testing.T) {
	const n = 256
	x := normalRows(21, 3*n)
	x[5] = float32(math.NaN())
	x[6] = math.Float32frombits(0x7f800001) // signalling NaN
	x[7] = float32(math.Inf(-1))
	for _, dt := range quantTypes() {
		rs, _ := RowSize(dt, n)
		want := make([]byte, 3*rs)
		if err := Quantize(want, x, dt, n, nil); err != nil {
			t.Fatal(err)
		}
		for off := 1; off < 4; off++ {
			buf := make([]byte, 3*rs+off)
			if err := Quantize(buf[off:], x, dt, n, nil); err != nil {
				t.Fatal(err)
			}
			if string(buf[off:]) != string(want) {
				t.Fatalf("%v: output at offset %d differs", dt, off)
			}
		}
	}
}

func TestMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
	for iter := 0; iter < 20000; iter++ {
		xb := make([]float32, 1+r.IntN(40))
		for i := range xb {
			if r.IntN(3) == 0 {
				xb[i] = specials[r.IntN(len(specials))]
			} else {
				xb[i] = float32(r.NormFloat64())
			}
		}
		wantMin, wantMax := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range xb {
			if v < wantMin {
				wantMin = v
			}
			if v > wantMax {
				wantMax = v
			}
		}
		gotMin, gotMax := minMax(xb)
		if math.Float32bits(gotMin) != math.Float32bits(wantMin) || math.Float32bits(gotMax) != math.Float32bits(wantMax) {
			t.Fatalf("minMax(%v) = %v, %v; C loop %v, %v", xb, gotMin, gotMax, wantMin, wantMax)
		}
	}
}
