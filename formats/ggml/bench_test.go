package ggml

import (
	"fmt"
	"testing"

	"mlmf/formats"
)

// Input sizes match tests/interop/bench_ggml.py: 64 rows of 4096 float32
// (1 MiB), so MB/s here and there are comparable.
const benchRows, benchCols = 64, 4096

func BenchmarkQuantize(b *testing.B) {
	x := normalRows(11, benchRows*benchCols)
	for _, dt := range []formats.DType{formats.Q8_0, formats.Q4_0, formats.Q4_K, formats.Q6_K} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/threads=%d", dt, w), func(b *testing.B) {
				rs, _ := RowSize(dt, benchCols)
				q := make([]byte, benchRows*rs)
				b.SetBytes(int64(4 * len(x)))
				b.ReportAllocs()
				for b.Loop() {
					if err := QuantizeParallel(q, x, dt, benchCols, nil, w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkQuantizeImatrix is BenchmarkQuantize's K-quants, one thread,
// with importance weights (quantize_row_qN_K_impl's paths).
func BenchmarkQuantizeImatrix(b *testing.B) {
	x := normalRows(11, benchRows*benchCols)
	im := normalRows(12, benchCols)
	for i, v := range im {
		im[i] = float32(v*v) + 0.01
	}
	for _, dt := range []formats.DType{formats.Q4_K, formats.Q6_K} {
		b.Run(dt.String(), func(b *testing.B) {
			rs, _ := RowSize(dt, benchCols)
			q := make([]byte, benchRows*rs)
			b.SetBytes(int64(4 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Quantize(q, x, dt, benchCols, im); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuantizeAll(b *testing.B) {
	x := normalRows(11, benchRows*benchCols)
	for _, dt := range quantTypes() {
		b.Run(dt.String(), func(b *testing.B) {
			rs, _ := RowSize(dt, benchCols)
			q := make([]byte, benchRows*rs)
			b.SetBytes(int64(4 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Quantize(q, x, dt, benchCols, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDequantize reports MB/s of float32 output per type.
func BenchmarkDequantize(b *testing.B) {
	for _, dt := range formats.AllDTypes() {
		if !CanDequantize(dt) {
			continue
		}
		b.Run(dt.String(), func(b *testing.B) {
			n := benchRows * benchCols
			src := make([]byte, n/dt.BlockSize()*dt.TypeSize())
			for i := range src {
				src[i] = byte(i * 7)
			}
			// sane fp16 scales are not needed for timing; NaNs cost the same
			y := make([]float32, n)
			b.SetBytes(int64(4 * n))
			b.ReportAllocs()
			for b.Loop() {
				if err := Dequantize(y, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
