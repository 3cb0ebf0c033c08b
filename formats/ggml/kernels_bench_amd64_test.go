package ggml

// Kernel-level timings, AVX2 against the SSE2 fallback.

import "testing"

func BenchmarkQXTrials(b *testing.B) {
	x := normalRows(3, 16)
	w, wv := make([]float32, 16), make([]float32, 16)
	for i, v := range x {
		w[i] = v * v
		wv[i] = w[i] * v
	}
	var num [24]float32
	for k := range num {
		num[k] = -(32 + 0.1*float32(k-12))
	}
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "avx2", false: "sse2"}[on], func(b *testing.B) {
			saved := useAVX2
			useAVX2 = on
			defer func() { useAVX2 = saved }()
			var r qxRes24
			for b.Loop() {
				qxTrials24(x, w, wv, &num, 2.5, 32, &r)
			}
		})
	}
}

func BenchmarkQKXTrials(b *testing.B) {
	x := normalRows(4, 32)
	w, xm := make([]float32, 32), make([]float32, 32)
	mn, mx := x[0], x[0]
	var sumW, sumX float32
	for i, v := range x {
		w[i] = abs32(v) + 0.8
		mn, mx = min(mn, v), max(mx, v)
		sumW += w[i]
		sumX += float32(w[i] * v)
	}
	for i, v := range x {
		xm[i] = v - mn
	}
	var num [8]float32
	for k := range num {
		num[k] = -1 + 0.1*float32(k) + 15
	}
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "avx2", false: "sse2"}[on], func(b *testing.B) {
			saved := useAVX2
			useAVX2 = on
			defer func() { useAVX2 = saved }()
			var r qkxRes8
			for b.Loop() {
				qkxTrials8(x, xm, w, &num, mx-mn, sumW, sumX, 15, false, &r)
			}
		})
	}
}
