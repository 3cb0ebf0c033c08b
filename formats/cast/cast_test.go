package cast

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/x448/float16"

	"mlmf/formats"
)

var (
	floatTypes = []formats.DType{formats.F64, formats.F32, formats.F16, formats.BF16,
		formats.F8_E4M3, formats.F8_E5M2, formats.F8_E8M0, formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ}
	intTypes = []formats.DType{formats.BOOL, formats.U8, formats.I8, formats.I16, formats.U16,
		formats.I32, formats.U32, formats.I64, formats.U64}
	allTypes = append(append([]formats.DType{}, floatTypes...), intTypes...)
)

// patterns returns every bit pattern of an 8- or 16-bit type.
func patterns(t formats.DType) []byte {
	n := 1 << t.Bits()
	b := make([]byte, n*t.TypeSize())
	for i := 0; i < n; i++ {
		if t.TypeSize() == 1 {
			b[i] = byte(i)
		} else {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(i))
		}
	}
	return b
}

// genericConvert runs the reference path only.
func genericConvert(t *testing.T, dst []byte, dt formats.DType, src []byte, st formats.DType, opt Options) {
	t.Helper()
	n, err := elems(dst, dt, src, st)
	if err != nil {
		t.Fatal(err)
	}
	if st == dt {
		copy(dst, src)
		return
	}
	generic(dst, dt, src, st, n, opt)
}

func sameBytes(t *testing.T, what string, got, want []byte, size int) {
	t.Helper()
	bad := 0
	for i := 0; i < len(want); i += size {
		for j := 0; j < size; j++ {
			if got[i+j] != want[i+j] {
				if bad < 5 {
					t.Errorf("%s: element %d: got % x, want % x", what, i/size, got[i:i+size], want[i:i+size])
				}
				bad++
				break
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d elements differ", what, bad)
	}
}

// TestFastMatchesGeneric checks every fast path and lookup table against the
// generic path on every 8- and 16-bit source pattern, aligned and not.
func TestFastMatchesGeneric(t *testing.T) {
	t.Parallel()
	for _, st := range allTypes {
		if st.Bits() > 16 {
			continue
		}
		src := patterns(st)
		for _, dt := range allTypes {
			for _, sat := range []bool{false, true} {
				opt := Options{Saturate: sat}
				n := len(src) / st.TypeSize()
				want := make([]byte, n*dt.TypeSize())
				genericConvert(t, want, dt, src, st, opt)
				got := make([]byte, len(want))
				if err := Convert(got, dt, src, st, opt); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, st.String()+"->"+dt.String(), got, want, dt.TypeSize())
				// Misaligned buffers go through the bounce path.
				s1 := make([]byte, len(src)+1)[1:]
				copy(s1, src)
				d1 := make([]byte, len(want)+1)[1:]
				if err := Convert(d1, dt, s1, st, opt); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, st.String()+"->"+dt.String()+" misaligned", d1, want, dt.TypeSize())
			}
		}
	}
}

// sample32 returns float32 patterns: a stride over all 2^32 plus specials,
// boundaries of the half and bfloat16 ranges and random ones.
func sample32(n int) []uint32 {
	r := rand.New(rand.NewPCG(1, 2))
	var out []uint32
	for u := uint64(0); u < 1<<32; u += 4093 * sampleScale {
		out = append(out, uint32(u))
	}
	for _, base := range []uint32{0, 0x33000000, 0x33800000, 0x387FC000, 0x38800000, 0x477FE000, 0x477FF000,
		0x7F7F0000, 0x7F7F8000, 0x7F800000, 0x7FC00000, 0x43E00000, 0x43E80000, 0x47600000, 0x47700000} {
		for d := uint32(0); d < 4096; d++ {
			out = append(out, base+d, base-d, base+d|0x80000000)
		}
	}
	for range n {
		out = append(out, r.Uint32())
	}
	return out
}

func TestFastMatchesGenericF32(t *testing.T) {
	t.Parallel()
	u := sample32(1 << 18 / sampleScale)
	src := make([]byte, 4*len(u))
	for i, x := range u {
		binary.LittleEndian.PutUint32(src[4*i:], x)
	}
	for _, dt := range allTypes {
		for _, sat := range []bool{false, true} {
			opt := Options{Saturate: sat}
			want := make([]byte, len(u)*dt.TypeSize())
			genericConvert(t, want, dt, src, formats.F32, opt)
			got := make([]byte, len(want))
			if err := Convert(got, dt, src, formats.F32, opt); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "F32->"+dt.String(), got, want, dt.TypeSize())
		}
	}
}

// TestRoundTrip16 converts every F16 and BF16 pattern to F32 and F64 and
// back: every value, NaN payloads included, must survive.
func TestRoundTrip16(t *testing.T) {
	t.Parallel()
	for _, st := range []formats.DType{formats.F16, formats.BF16} {
		src := patterns(st)
		for _, mid := range []formats.DType{formats.F32, formats.F64} {
			m := make([]byte, len(src)/2*mid.TypeSize())
			back := make([]byte, len(src))
			if err := Convert(m, mid, src, st, Options{}); err != nil {
				t.Fatal(err)
			}
			if err := Convert(back, st, m, mid, Options{}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(src); i += 2 {
				a, b := binary.LittleEndian.Uint16(src[i:]), binary.LittleEndian.Uint16(back[i:])
				isNaN := a&0x7FFF > 0x7C00 && st == formats.F16 || a&0x7FFF > 0x7F80 && st == formats.BF16
				switch {
				case !isNaN && a != b:
					t.Errorf("%v via %v: %#04x came back as %#04x", st, mid, a, b)
				case isNaN && b&0x7FFF <= 0x7F80 && st == formats.BF16:
					t.Errorf("%v via %v: NaN %#04x came back as %#04x", st, mid, a, b)
				case isNaN && st == formats.F16 && a != b:
					// F16 NaNs keep payload and sign both ways (numpy).
					t.Errorf("%v via %v: NaN %#04x came back as %#04x", st, mid, a, b)
				}
			}
		}
	}
}

// TestRoundTrip8 does the same for every 8-bit float pattern through every
// wider float type: values are exact; NaNs stay NaN with their sign.
func TestRoundTrip8(t *testing.T) {
	t.Parallel()
	for _, st := range []formats.DType{formats.F8_E4M3, formats.F8_E5M2, formats.F8_E8M0,
		formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ} {
		src := patterns(st)
		for _, mid := range []formats.DType{formats.F16, formats.BF16, formats.F32, formats.F64} {
			if st == formats.F8_E8M0 && mid == formats.F16 {
				continue // 2^-127..2^127 does not fit in F16
			}
			m := make([]byte, len(src)*mid.TypeSize())
			back := make([]byte, len(src))
			if err := Convert(m, mid, src, st, Options{}); err != nil {
				t.Fatal(err)
			}
			if err := Convert(back, st, m, mid, Options{}); err != nil {
				t.Fatal(err)
			}
			for i := range src {
				a, b := src[i], back[i]
				want := a
				switch {
				case st == formats.F8_E4M3 && a&0x7F == 0x7F:
					want = a // canonical NaN is the only NaN
				case st == formats.F8_E5M2 && a&0x7F > 0x7C:
					want = a&0x80 | 0x7E
				}
				if b != want {
					t.Errorf("%v via %v: %#02x came back as %#02x, want %#02x", st, mid, a, b, want)
				}
			}
		}
	}
}

// TestEncodeProperties checks the generic encoder against math on random
// doubles: the result is one of the two neighbours, the nearer one, and the
// even one on a tie.
func TestEncodeProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []formats.DType{formats.F16, formats.BF16, formats.F8_E4M3, formats.F8_E5M2,
		formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ} {
		f := miniFormat[dt]
		maxv := math.Float64frombits(f.decode(f.maxFinite()))
		for range 200000 {
			x := (r.Float64()*2 - 1) * maxv * 1.01
			if r.IntN(4) == 0 {
				x = math.Ldexp(x, -r.IntN(40))
			}
			c := f.encode(math.Float64bits(x), false)
			got := math.Float64frombits(f.decode(c))
			if math.IsNaN(got) || math.IsInf(got, 0) {
				if math.Abs(x) <= maxv {
					t.Fatalf("%v: %g overflowed to %#x", dt, x, c)
				}
				continue
			}
			// neighbours: step the code by one in magnitude each way.
			mag := c &^ f.signBit()
			for _, nb := range []uint64{mag - 1, mag + 1} {
				if mag == 0 && nb == mag-1 || nb > f.maxFinite() {
					continue
				}
				v := math.Abs(math.Float64frombits(f.decode(nb)))
				dg, dn := math.Abs(math.Abs(x)-math.Abs(got)), math.Abs(math.Abs(x)-v)
				if dn < dg || dn == dg && mag&1 == 1 {
					t.Fatalf("%v: %g rounded to %g (%#x) but %g is nearer or even", dt, x, got, c, v)
				}
			}
		}
	}
}

func TestDoubleRounding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		x        float64
		dt       formats.DType
		once, ml uint64 // single rounding, ml_dtypes (via F32)
	}{
		{1 + 0x1p-8 + 0x1p-30, formats.BF16, 0x3F81, 0x3F80},
		{-(1 + 0x1p-8 + 0x1p-30), formats.BF16, 0xBF81, 0xBF80},
		{1 + 0x1p-4 + 0x1p-40, formats.F8_E4M3, 0x39, 0x38},
		{1 + 0x1p-3 + 0x1p-40, formats.F8_E5M2, 0x3D, 0x3C},
		{1 + 0x1p-11 + 0x1p-40, formats.F16, 0x3C01, 0x3C01}, // numpy rounds F64→F16 once
	}
	for _, c := range cases {
		src := binary.LittleEndian.AppendUint64(nil, math.Float64bits(c.x))
		for _, via := range []bool{false, true} {
			dst := make([]byte, c.dt.TypeSize())
			if err := Convert(dst, c.dt, src, formats.F64, Options{ViaF32: via}); err != nil {
				t.Fatal(err)
			}
			var got uint64
			for i := len(dst) - 1; i >= 0; i-- {
				got = got<<8 | uint64(dst[i])
			}
			want := c.once
			if via {
				want = c.ml
			}
			if got != want {
				t.Errorf("%v → %v (ViaF32=%v): got %#x, want %#x", c.x, c.dt, via, got, want)
			}
		}
	}
	// int64(2^24+2^16+1) → BF16
	src := binary.LittleEndian.AppendUint64(nil, 1<<24+1<<16+1)
	dst := make([]byte, 2)
	for _, c := range []struct {
		via  bool
		want uint16
	}{{false, 0x4B81}, {true, 0x4B80}} {
		if err := Convert(dst, formats.BF16, src, formats.I64, Options{ViaF32: c.via}); err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint16(dst); got != c.want {
			t.Errorf("I64 2^24+2^16+1 → BF16 (ViaF32=%v): got %#x, want %#x", c.via, got, c.want)
		}
	}
}

func TestSaturate(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	cases := []struct {
		x    float32
		dt   formats.DType
		sat  bool
		want uint64
	}{
		{1000, formats.F8_E4M3, false, 0x7F},
		{1000, formats.F8_E4M3, true, 0x7E},
		{-1000, formats.F8_E4M3, true, 0xFE},
		{float32(inf), formats.F8_E4M3, false, 0x7F},
		{float32(inf), formats.F8_E4M3, true, 0x7E},
		{float32(-inf), formats.F8_E4M3, true, 0xFE},
		{464, formats.F8_E4M3, false, 0x7E}, // tie rounds to even 448
		{465, formats.F8_E4M3, false, 0x7F},
		{float32(math.NaN()), formats.F8_E4M3, true, 0x7F},
		{1e6, formats.F8_E5M2, false, 0x7C},
		{1e6, formats.F8_E5M2, true, 0x7B},
		{float32(-inf), formats.F8_E5M2, true, 0xFB},
		{61440, formats.F8_E5M2, false, 0x7C},
		{1e6, formats.F16, true, 0x7BFF},
		{float32(-inf), formats.F16, true, 0xFBFF},
		{float32(inf), formats.BF16, true, 0x7F7F},
		{1e6, formats.F8_E4M3FNUZ, false, 0x80},
		{1e6, formats.F8_E4M3FNUZ, true, 0x7F},
		{-1e6, formats.F8_E5M2FNUZ, true, 0xFF},
		{1e39 * 0, formats.F8_E8M0, false, 0xFF},
	}
	for _, c := range cases {
		src := binary.LittleEndian.AppendUint32(nil, math.Float32bits(c.x))
		dst := make([]byte, c.dt.TypeSize())
		if err := Convert(dst, c.dt, src, formats.F32, Options{Saturate: c.sat}); err != nil {
			t.Fatal(err)
		}
		var got uint64
		for i := len(dst) - 1; i >= 0; i-- {
			got = got<<8 | uint64(dst[i])
		}
		if got != c.want {
			t.Errorf("%g → %v (sat=%v): got %#x, want %#x", c.x, c.dt, c.sat, got, c.want)
		}
	}
}

func TestFloatToIntSaturates(t *testing.T) {
	t.Parallel()
	xs := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1.5, 300, -300, 2.9, -2.9, 1e300, -0.0}
	want := map[formats.DType][]int64{
		formats.I8:   {0, 127, -128, -1, 127, -128, 2, -2, 127, 0},
		formats.U8:   {0, 255, 0, 0, 255, 0, 2, 0, 255, 0},
		formats.I64:  {0, math.MaxInt64, math.MinInt64, -1, 300, -300, 2, -2, math.MaxInt64, 0},
		formats.BOOL: {1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
	}
	src := make([]byte, 0, 8*len(xs))
	for _, x := range xs {
		src = binary.LittleEndian.AppendUint64(src, math.Float64bits(x))
	}
	for dt, w := range want {
		dst := make([]byte, len(xs)*dt.TypeSize())
		if err := Convert(dst, dt, src, formats.F64, Options{}); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, len(xs)*8)
		if err := Convert(back, formats.I64, dst, dt, Options{}); err != nil {
			t.Fatal(err)
		}
		for i := range xs {
			if got := int64(binary.LittleEndian.Uint64(back[8*i:])); got != w[i] {
				t.Errorf("%g → %v: got %d, want %d", xs[i], dt, got, w[i])
			}
		}
	}
	// U64 top end
	src = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Ldexp(1, 64)))
	src = binary.LittleEndian.AppendUint64(src, math.Float64bits(math.Ldexp(1, 63)))
	dst := make([]byte, 16)
	if err := Convert(dst, formats.U64, src, formats.F64, Options{}); err != nil {
		t.Fatal(err)
	}
	if a, b := binary.LittleEndian.Uint64(dst), binary.LittleEndian.Uint64(dst[8:]); a != math.MaxUint64 || b != 1<<63 {
		t.Errorf("2^64, 2^63 → U64: got %#x %#x", a, b)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dst    []byte
		dt     formats.DType
		src    []byte
		st     formats.DType
		target error
	}{
		{make([]byte, 2), formats.F16, make([]byte, 3), formats.F32, ErrLength},
		{make([]byte, 3), formats.F16, make([]byte, 4), formats.F32, ErrLength},
		{make([]byte, 4), formats.F16, make([]byte, 4), formats.F32, ErrLength},
		{nil, formats.F16, make([]byte, 4), formats.F32, ErrLength},
		{make([]byte, 4), formats.F6_E3M2, make([]byte, 4), formats.F32, formats.ErrUnsupported},
		{make([]byte, 4), formats.F4, make([]byte, 4), formats.F32, ErrLength},
		{make([]byte, 1), formats.F4, make([]byte, 4), formats.F32, ErrLength}, // one element: half a byte
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.F4, ErrLength},
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.F6_E2M3, formats.ErrUnsupported},
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.Q8_0, formats.ErrUnsupported},
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.C64, formats.ErrUnsupported},
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.Invalid, formats.ErrUnsupported},
		{make([]byte, 4), formats.F32, make([]byte, 4), formats.DType(250), formats.ErrUnsupported},
	}
	for i, c := range cases {
		for _, f := range []func() error{
			func() error { return Convert(c.dst, c.dt, c.src, c.st, Options{}) },
			func() error { return ConvertParallel(c.dst, c.dt, c.src, c.st, Options{}, 4) },
		} {
			if err := f(); !errors.Is(err, c.target) {
				t.Errorf("case %d: got %v, want %v", i, err, c.target)
			}
		}
	}
	if err := Convert(nil, formats.F16, nil, formats.F32, Options{}); err != nil {
		t.Errorf("empty buffers: %v", err)
	}
}

func TestParallelMatchesSerial(t *testing.T) {
	t.Parallel()
	u := sample32(1 << 19)
	src := make([]byte, 4*len(u)+1)[1:] // misaligned on purpose
	for i, x := range u {
		binary.LittleEndian.PutUint32(src[4*i:], x)
	}
	for _, dt := range []formats.DType{formats.BF16, formats.F16, formats.F8_E4M3, formats.I32} {
		a := make([]byte, len(u)*dt.TypeSize())
		b := make([]byte, len(a))
		if err := Convert(a, dt, src, formats.F32, Options{}); err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{0, 1, 3, 7} {
			if err := ConvertParallel(b, dt, src, formats.F32, Options{}, w); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "parallel F32->"+dt.String(), b, a, dt.TypeSize())
		}
	}
}

func TestFloat32Helpers(t *testing.T) {
	t.Parallel()
	in := []float32{0, -0.5, 1, 3.14159, 65504, 1e-7, float32(math.Inf(-1))}
	bf := make([]byte, 2*len(in))
	if err := FromFloat32(bf, formats.BF16, in, Options{}); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(in))
	if err := ToFloat32(out, bf, formats.BF16); err != nil {
		t.Fatal(err)
	}
	for i, x := range in {
		want := math.Float32frombits(uint32(binary.LittleEndian.Uint16(bf[2*i:])) << 16)
		if out[i] != want || math.Abs(float64(out[i]-x)) > math.Abs(float64(x))/128 {
			t.Errorf("%g → BF16 → %g", x, out[i])
		}
	}
	if err := ToFloat32(out[:1], bf, formats.BF16); !errors.Is(err, ErrLength) {
		t.Errorf("short dst: %v", err)
	}
}

// TestX448Float16 records why the package has its own half conversions:
// github.com/x448/float16 rounds finite values exactly as numpy does, but it
// quiets NaNs, which numpy does not.
func TestX448Float16(t *testing.T) {
	t.Parallel()
	step := uint64(251)
	if os.Getenv("MLMF_CAST_EXHAUSTIVE") != "" {
		step = 1 // every float32: about a minute
	}
	nanDiffer := false
	for u := uint64(0); u < 1<<32; u += step {
		x := uint32(u)
		ours := f32ToF16One(x)
		theirs := float16.Fromfloat32(math.Float32frombits(x)).Bits()
		if x&0x7FFFFFFF > 0x7F800000 {
			nanDiffer = nanDiffer || ours != theirs
			continue
		}
		if ours != theirs {
			t.Fatalf("F32 %#08x: ours %#04x, x448 %#04x", x, ours, theirs)
		}
	}
	if !nanDiffer {
		t.Errorf("x448 now treats NaNs like numpy: consider using it")
	}
	for h := 0; h < 1<<16; h++ {
		ours := fmtF16.decode(uint64(h))
		theirs := math.Float64bits(float64(float16.Frombits(uint16(h)).Float32()))
		if h&0x7FFF <= 0x7C00 && ours != theirs {
			t.Fatalf("F16 %#04x: ours %#x, x448 %#x", h, ours, theirs)
		}
	}
}

// sample64 returns doubles around the rounding points of every narrow type:
// random bits, F32 values and their neighbours, ties and near-ties.
func sample64(n int) []uint64 {
	r := rand.New(rand.NewPCG(7, 8))
	var out []uint64
	for range n {
		out = append(out, r.Uint64())
		f := math.Float64bits(float64(math.Float32frombits(r.Uint32())))
		out = append(out, f, f+1, f-1, f+1<<28, f+1<<28+1, f+1<<28-1)
	}
	for _, x := range []float64{0, 1, 448, 464, 465, 57344, 61440, 65504, 65520, math.MaxFloat32,
		math.MaxFloat32 * 1.5, 1e300, math.Inf(1), math.Ldexp(1, -127), math.Ldexp(1.5, -127),
		math.Ldexp(1, -149), math.Ldexp(1, -150), math.Ldexp(1, -1074), math.Ldexp(1, -25)} {
		b := math.Float64bits(x)
		for d := uint64(0); d < 64; d++ {
			out = append(out, b+d, b-d, (b+d)|1<<63, b+d<<28, b-d<<28)
		}
	}
	return append(out, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FF8123456789ABC)
}

func TestFastMatchesGenericF64(t *testing.T) {
	t.Parallel()
	u := sample64(1 << 16 / sampleScale)
	src := make([]byte, 8*len(u))
	for i, x := range u {
		binary.LittleEndian.PutUint64(src[8*i:], x)
	}
	for _, dt := range allTypes {
		for _, opt := range []Options{{}, {Saturate: true}, {ViaF32: true}, {Saturate: true, ViaF32: true}} {
			want := make([]byte, len(u)*dt.TypeSize())
			genericConvert(t, want, dt, src, formats.F64, opt)
			got := make([]byte, len(want))
			if err := Convert(got, dt, src, formats.F64, opt); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "F64->"+dt.String(), got, want, dt.TypeSize())
		}
	}
}

// TestSIMDMatchesScalar runs the SIMD-accelerated pairs with and without
// SIMD on every length up to 70 and every byte offset up to 8, so the
// vector bodies, the 64-bit word loops and the scalar tails all run.
func TestSIMDMatchesScalar(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this machine")
	}
	u := sample32(1 << 12)
	f32 := make([]byte, 4*len(u))
	for i, x := range u {
		binary.LittleEndian.PutUint32(f32[4*i:], x)
	}
	bf := patterns(formats.BF16)
	u64 := sample64(1 << 10)
	f64 := make([]byte, 8*len(u64))
	for i, x := range u64 {
		binary.LittleEndian.PutUint64(f64[8*i:], x)
	}
	// runs of normal values so the vector loop runs long stretches too
	r := rand.New(rand.NewPCG(9, 10))
	for range 4096 {
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(r.NormFloat64()))
	}
	for _, c := range []struct {
		st, dt formats.DType
		src    []byte
	}{{formats.F32, formats.BF16, f32}, {formats.BF16, formats.F32, bf}, {formats.F64, formats.BF16, f64},
		{formats.F32, formats.F16, f32}, {formats.BF16, formats.F16, bf}} {
		ss, ds := c.st.TypeSize(), c.dt.TypeSize()
		n := len(c.src) / ss
		want := make([]byte, n*ds)
		useSIMD = false
		if err := Convert(want, c.dt, c.src, c.st, Options{}); err != nil {
			t.Fatal(err)
		}
		useSIMD = true
		got := make([]byte, len(want))
		if err := Convert(got, c.dt, c.src, c.st, Options{}); err != nil {
			t.Fatal(err)
		}
		sameBytes(t, "simd "+c.st.String()+"->"+c.dt.String(), got, want, ds)
		for off := 0; off < 8; off++ {
			for k := 0; k <= 70; k++ {
				s := make([]byte, k*ss+off)[off:]
				copy(s, c.src[(k*977%n)*ss:])
				if len(c.src)-(k*977%n)*ss < len(s) {
					continue
				}
				d := make([]byte, k*ds+off)[off:]
				useSIMD = false
				w := make([]byte, k*ds)
				if err := Convert(w, c.dt, s, c.st, Options{}); err != nil {
					t.Fatal(err)
				}
				useSIMD = true
				if err := Convert(d, c.dt, s, c.st, Options{}); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, "simd tail", d, w, ds)
			}
		}
	}
	useSIMD = hasAVX2
}

// TestF4 decodes every byte of packed F4 (so every pair of codes) and
// encodes it back, and checks the nibble order and a few values.
func TestF4(t *testing.T) {
	t.Parallel()
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	want := []float32{0, 0.5, 1, 1.5, 2, 3, 4, 6}
	for _, mid := range []formats.DType{formats.F64, formats.F32, formats.F16, formats.BF16, formats.F8_E4M3} {
		m := make([]byte, 512*mid.TypeSize())
		if err := Convert(m, mid, src, formats.F4, Options{}); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, 256)
		if err := Convert(back, formats.F4, m, mid, Options{}); err != nil {
			t.Fatal(err)
		}
		sameBytes(t, "F4 via "+mid.String(), back, src, 1)
	}
	f := make([]float32, 512)
	if err := ToFloat32(f, src, formats.F4); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 256; b++ {
		lo, hi := f[2*b], f[2*b+1]
		for k, v := range []float32{lo, hi} {
			code := b >> (4 * k) & 0xF
			w := want[code&7]
			if code&8 != 0 {
				w = -w
			}
			if v != w || math.Signbit(float64(v)) != (code&8 != 0) {
				t.Fatalf("byte %#02x element %d: got %g, want %g", b, k, v, w)
			}
		}
	}
	// Overflow and Inf saturate; NaN gives the opposite-signed zero (ml_dtypes).
	in := []float32{7, -100, float32(math.Inf(1)), float32(math.NaN()), 0.25, 0.26, 5, -5.5}
	out := make([]byte, 4)
	if err := FromFloat32(out, formats.F4, in, Options{}); err != nil {
		t.Fatal(err)
	}
	if got, w := out, []byte{0xF7, 0x87, 0x10, 0xF6}; string(got) != string(w) {
		t.Errorf("F4 encode: got % x, want % x", got, w)
	}
}
