package cast

import (
	"math/rand/v2"
	"testing"

	"mlmf/formats"
)

// benchSrc returns n elements of st holding realistic weights (normal
// values around 0.02), converted from float32.
func benchSrc(b *testing.B, st formats.DType, n int) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(r.NormFloat64() * 0.02)
	}
	out := make([]byte, n*st.TypeSize())
	if err := FromFloat32(out, st, f, Options{}); err != nil {
		b.Fatal(err)
	}
	return out
}

func benchPair(b *testing.B, st, dt formats.DType, parallel bool) {
	const n = 16 << 20 // 64 MB of F32 input
	src := benchSrc(b, st, n)
	dst := make([]byte, n*dt.TypeSize())
	// Build any lookup table and fault dst in before timing.
	if err := Convert(dst, dt, src, st, Options{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if parallel {
			err = ConvertParallel(dst, dt, src, st, Options{}, 0)
		} else {
			err = Convert(dst, dt, src, st, Options{})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkF32ToBF16(b *testing.B)         { benchPair(b, formats.F32, formats.BF16, false) }
func BenchmarkBF16ToF16(b *testing.B)         { benchPair(b, formats.BF16, formats.F16, false) }
func BenchmarkBF16ToF32(b *testing.B)         { benchPair(b, formats.BF16, formats.F32, false) }
func BenchmarkF32ToF16(b *testing.B)          { benchPair(b, formats.F32, formats.F16, false) }
func BenchmarkF16ToF32(b *testing.B)          { benchPair(b, formats.F16, formats.F32, false) }
func BenchmarkF16ToBF16(b *testing.B)         { benchPair(b, formats.F16, formats.BF16, false) }
func BenchmarkF32ToE4M3(b *testing.B)         { benchPair(b, formats.F32, formats.F8_E4M3, false) }
func BenchmarkBF16ToE4M3(b *testing.B)        { benchPair(b, formats.BF16, formats.F8_E4M3, false) }
func BenchmarkF64ToBF16(b *testing.B)         { benchPair(b, formats.F64, formats.BF16, false) }
func BenchmarkF32ToBF16Parallel(b *testing.B) { benchPair(b, formats.F32, formats.BF16, true) }
