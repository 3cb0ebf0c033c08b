package ggml

// SSE2 versions of the kernels in kernels.go (kernels_amd64.s), and AVX2
// ones (kernels_avx2_amd64.s) where the CPU and OS have AVX2.

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 selects the AVX2 kernels; tests clear it to run the SSE2 ones
// (and GODEBUG=cpu.avx2=off clears it for a whole process).
var useAVX2 = cpu.X86.HasAVX2

//go:noescape
func qkxTrials8AVX2(x, xm, w *float32, n int, num *[8]float32, den, sumW, sumX float32, nm int32, mad bool, r *qkxRes8)

//go:noescape
func qxTrials24AVX2(x, w, wv *float32, n int, num *[24]float32, max float32, nm int32, r *qxRes24)

//go:noescape
func qkxGroups8AVX2(xt, wt *float32, n int, num *float32, nstep int, nmax float32, nm int32, mad, qkx3 bool, st *qkxGroups8)

// makeQKXQuants8 is makeQKXQuants on the eight n-element groups of x
// (group j at x[n*j:], its weights at w[n*j:], its levels into L[n*j:]),
// giving each group's scale and the_min. With AVX2 the eight groups run
// side by side, one per lane (qkxGroups8AVX2), st being the kernel's state,
// and the levels are left in st (deferred is true): the K-quants overwrite
// all but those of groups whose final scale is 0, which they then take
// with st.levels.
func makeQKXQuants8(n, nmax int, x, w []float32, L []uint8, rmin, rdelta float32, nstep int,
	useMAD, qkx3 bool, st *qkxGroups8, scales, mins *[8]float32) (deferred bool) {
	if !useAVX2 || n < 1 || n > 32 || nstep < 1 || nstep > qkxMaxStep {
		for j := 0; j < 8; j++ {
			scales[j], mins[j] = makeQKXQuants(n, nmax, x[n*j:], w[n*j:n*j+n], L[n*j:], rmin, rdelta, nstep, useMAD, qkx3)
		}
		return false
	}
	x = x[:8*n]
	w = w[:8*n]
	for j := 0; j < 8; j++ {
		for i := 0; i < n; i++ {
			st.xt[8*i+j] = x[n*j+i]
			st.wt[8*i+j] = w[n*j+i]
		}
	}
	var num [qkxMaxStep + 1]float32
	for is := 0; is <= nstep; is++ {
		num[is] = float32(rmin+float32(rdelta*float32(is))) + float32(nmax)
	}
	qkxGroups8AVX2(&st.xt[0], &st.wt[0], n, &num[0], nstep, float32(nmax), int32(nmax), useMAD, qkx3, st)
	for j := 0; j < 8; j++ {
		if st.flat[j] != 0 {
			scales[j], mins[j] = 0, -st.min0[j]
		} else {
			scales[j], mins[j] = st.scale[j], -st.min[j]
		}
	}
	return true
}

//go:noescape
func qxGroups8AVX2(xt, wt *float32, n int, num *[19]float32, nm int32, sq bool, st *qxGroups8)

// makeQXQuants8 is makeQXQuants(n, nmax, ·, ·, 1, ·) on the eight n-element
// groups of x (group j at x[n*j:], its levels into L[n*j:], its weights at
// qw[n*j:] or, with qw nil, x*x), each group's scale into scales. With
// AVX2 the eight groups run side by side, one per lane (qxGroups8AVX2), and
// the levels are left in st (deferred is true; see makeQKXQuants8).
func makeQXQuants8(n, nmax int, x []float32, L []int8, qw []float32, st *qxGroups8, scales *[8]float32) (deferred bool) {
	if !useAVX2 || n < 1 || n > 32 {
		for j := 0; j < 8; j++ {
			var q []float32
			if qw != nil {
				q = qw[n*j : n*j+n]
			}
			scales[j] = makeQXQuants(n, nmax, x[n*j:], L[n*j:], 1, q)
		}
		return false
	}
	x = x[:8*n]
	for j := 0; j < 8; j++ {
		for i := 0; i < n; i++ {
			st.xt[8*i+j] = x[n*j+i]
		}
	}
	if qw != nil {
		qw = qw[:8*n]
		for j := 0; j < 8; j++ {
			for i := 0; i < n; i++ {
				st.wt[8*i+j] = qw[n*j+i]
			}
		}
	}
	num := qxNums(nmax)
	qxGroups8AVX2(&st.xt[0], &st.wt[0], n, num, int32(nmax), qw == nil, st)
	*scales = st.scale
	return true
}

//go:noescape
func levelsDivAVX2(x *float32, n int, add, d float32, lo, hi, off int32, out *byte)

// levelsDivI8 is levelsDiv into int8 levels.
func levelsDivI8(x []float32, L []int8, add, d float32, lo, hi, off int32) {
	levelsDiv(x, unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(L))), len(L)), add, d, lo, hi, off)
}

// levelsDiv sets L[i] = clamp(nearest_int((x[i] + add)/d), lo, hi) + off
// for the len(L) elements of a group (add 0 is the C's plain x[i]/d).
func levelsDiv(x []float32, L []uint8, add, d float32, lo, hi, off int32) {
	n := len(L)
	x = x[:n]
	if useAVX2 && n%16 == 0 && n > 0 {
		levelsDivAVX2(&x[0], n, add, d, lo, hi, off, &L[0])
		return
	}
	levelsDivGo(x, L, add, d, lo, hi, off)
}

// qkxTrials8 is qkxTrials8Generic; len(x) must be at most 32.
func qkxTrials8(x, xm, w []float32, num *[8]float32, den, sumW, sumX float32, nm int32, mad bool, r *qkxRes8) {
	if !useAVX2 || len(x) == 0 || len(x) > 32 {
		qkxTrials8Generic(x, xm, w, num, den, sumW, sumX, nm, mad, r)
		return
	}
	xm = xm[:len(x)]
	w = w[:len(x)]
	qkxTrials8AVX2(&x[0], &xm[0], &w[0], len(x), num, den, sumW, sumX, nm, mad, r)
}

// qxTrials24 is qxTrials24Generic.
func qxTrials24(x, w, wv []float32, num *[24]float32, max float32, nm int32, r *qxRes24) {
	if !useAVX2 || len(x) == 0 {
		qxTrials24Generic(x, w, wv, num, max, nm, r)
		return
	}
	w = w[:len(x)]
	wv = wv[:len(x)]
	qxTrials24AVX2(&x[0], &w[0], &wv[0], len(x), num, max, nm, r)
}

//go:noescape
func qkxSums4SSE(x, xm, w *float32, n int, iscale *[4]float32, nm int32, out *[12]float32)

//go:noescape
func qkxErr4SSE(x, xm, w *float32, n int, iscale, ts, tm *[4]float32, nm int32, mad bool, out *[4]float32)

//go:noescape
func qxSums4SSE(x, w, wv *float32, n int, iscale *[4]float32, nm int32, out *[8]float32)

func qkxSums4(x, xm, w []float32, iscale *[4]float32, nm int32, out *[12]float32) {
	if len(x) == 0 {
		*out = [12]float32{}
		return
	}
	xm = xm[:len(x)]
	w = w[:len(x)]
	qkxSums4SSE(&x[0], &xm[0], &w[0], len(x), iscale, nm, out)
}

func qkxErr4(x, xm, w []float32, iscale, ts, tm *[4]float32, nm int32, mad bool, out *[4]float32) {
	if len(x) == 0 {
		*out = [4]float32{}
		return
	}
	xm = xm[:len(x)]
	w = w[:len(x)]
	qkxErr4SSE(&x[0], &xm[0], &w[0], len(x), iscale, ts, tm, nm, mad, out)
}

func qxSums4(x, w, wv []float32, iscale *[4]float32, nm int32, out *[8]float32) {
	if len(x) == 0 {
		*out = [8]float32{}
		return
	}
	w = w[:len(x)]
	wv = wv[:len(x)]
	qxSums4SSE(&x[0], &w[0], &wv[0], len(x), iscale, nm, out)
}

//go:noescape
func q4_0BlockSSE(x *float32, qs *byte) (d float32, ok bool)

// q4_0Block quantizes one 32-element Q4_0 block's quants into qs[:16] and
// returns its d; ok is false (nothing written) for blocks holding a NaN.
func q4_0Block(x []float32, qs []byte) (d float32, ok bool) {
	_ = x[31]
	_ = qs[15]
	return q4_0BlockSSE(&x[0], &qs[0])
}

//go:noescape
func q8_0BlockSSE(x *float32, qs *byte) (d float32, ok bool)

// q8_0Block quantizes one 32-element Q8_0 block's quants into qs[:32] and
// returns its d; ok is false (nothing written) for blocks holding a NaN or
// an infinity, or whose d is so small that 1/d overflows.
func q8_0Block(x []float32, qs []byte) (d float32, ok bool) {
	_ = x[31]
	_ = qs[31]
	return q8_0BlockSSE(&x[0], &qs[0])
}

//go:noescape
func bf16RowSSE(x *float32, y *uint16, n int)

//go:noescape
func f16RowSSE(x *float32, y *uint16, n int)

// bf16Row and f16Row convert the first len(x) &^ 7 values and return how
// many they did; the caller finishes the rest.
func bf16Row(x []float32, y []uint16) int {
	n := len(x) &^ 7
	if n == 0 {
		return 0
	}
	_ = y[n-1]
	bf16RowSSE(&x[0], &y[0], n)
	return n
}

func f16Row(x []float32, y []uint16) int {
	n := len(x) &^ 7
	if n == 0 {
		return 0
	}
	_ = y[n-1]
	f16RowSSE(&x[0], &y[0], n)
	return n
}

//go:noescape
func q4_1BlockSSE(x *float32, qs *byte) (d, min float32, ok bool)

// q4_1Block is q4_1BlockGo with SSE2 for blocks without NaNs whose extremes
// are not zeros; ok is false (nothing written) otherwise.
func q4_1Block(x []float32, qs []byte) (d, min float32, ok bool) {
	_ = x[31]
	_ = qs[15]
	return q4_1BlockSSE(&x[0], &qs[0])
}

const q4_1Available = true

//go:noescape
func q5QuantSSE(x *float32, sub, id, add float32, maxq int32, qs *byte) (qh uint32)

// q5Quant is q5QuantGo with SSE2.
func q5Quant(x []float32, sub, id, add float32, maxq int32, qs []byte) uint32 {
	_ = x[31]
	_ = qs[15]
	return q5QuantSSE(&x[0], sub, id, add, maxq, &qs[0])
}

//go:noescape
func f16ToF32SSE(x *uint16, y *float32, n int)

// f16ToF32Row converts the first len(y) &^ 7 halves and returns how many.
func f16ToF32Row(x []uint16, y []float32) int {
	n := len(y) &^ 7
	if n == 0 {
		return 0
	}
	_ = x[n-1]
	f16ToF32SSE(&x[0], &y[0], n)
	return n
}

//go:noescape
func mxfp4IndexSSE(x *float32, ke *[16]float32, idx *[32]int32)

// mxfp4Indices is best_index_mxfp4 for a block of 32 values.
func mxfp4Indices(x []float32, ke *[16]float32, idx *[32]int32) {
	_ = x[31]
	mxfp4IndexSSE(&x[0], ke, idx)
}

//go:noescape
func iq4Sums4SSE(x, w *float32, n int, id *[4]float32, tab *[64]float32, out *[8]float32)

// kvaluesIQ4NLx4 is kvalues_iq4nl as float32, each value four times.
var kvaluesIQ4NLx4 = func() (t [64]float32) {
	for i, v := range kvaluesIQ4NL {
		for j := 0; j < 4; j++ {
			t[4*i+j] = float32(v)
		}
	}
	return t
}()

func iq4Sums4(x, w []float32, id *[4]float32, out *[8]float32) {
	if len(x) == 0 {
		*out = [8]float32{}
		return
	}
	w = w[:len(x)]
	iq4Sums4SSE(&x[0], &w[0], len(x), id, &kvaluesIQ4NLx4, out)
}
