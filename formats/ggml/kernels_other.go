//go:build !amd64

package ggml

func qkxSums4(x, xm, w []float32, iscale *[4]float32, nm int32, out *[12]float32) {
	qkxSums4Go(x, xm, w, iscale, nm, out)
}

func qkxErr4(x, xm, w []float32, iscale, ts, tm *[4]float32, nm int32, mad bool, out *[4]float32) {
	qkxErr4Go(x, xm, w, iscale, ts, tm, nm, mad, out)
}

func qxSums4(x, w, wv []float32, iscale *[4]float32, nm int32, out *[8]float32) {
	qxSums4Go(x, w, wv, iscale, nm, out)
}

const useAVX2 = false

func qkxTrials8(x, xm, w []float32, num *[8]float32, den, sumW, sumX float32, nm int32, mad bool, r *qkxRes8) {
	qkxTrials8Generic(x, xm, w, num, den, sumW, sumX, nm, mad, r)
}

func qxTrials24(x, w, wv []float32, num *[24]float32, max float32, nm int32, r *qxRes24) {
	qxTrials24Generic(x, w, wv, num, max, nm, r)
}

func makeQKXQuants8(n, nmax int, x, w []float32, L []uint8, rmin, rdelta float32, nstep int,
	useMAD, qkx3 bool, st *qkxGroups8, scales, mins *[8]float32) (deferred bool) {
	for j := 0; j < 8; j++ {
		scales[j], mins[j] = makeQKXQuants(n, nmax, x[n*j:], w[n*j:n*j+n], L[n*j:], rmin, rdelta, nstep, useMAD, qkx3)
	}
	return false
}

func makeQXQuants8(n, nmax int, x []float32, L []int8, qw []float32, st *qxGroups8, scales *[8]float32) (deferred bool) {
	for j := 0; j < 8; j++ {
		var q []float32
		if qw != nil {
			q = qw[n*j : n*j+n]
		}
		scales[j] = makeQXQuants(n, nmax, x[n*j:], L[n*j:], 1, q)
	}
	return false
}

func levelsDivI8(x []float32, L []int8, add, d float32, lo, hi, off int32) {
	x = x[:len(L)]
	for i, v := range x {
		L[i] = int8(clampI(nearestInt((v+add)/d), lo, hi) + off)
	}
}

func levelsDiv(x []float32, L []uint8, add, d float32, lo, hi, off int32) {
	levelsDivGo(x, L, add, d, lo, hi, off)
}

func q4_0Block(x []float32, qs []byte) (d float32, ok bool) { return 0, false }

func q8_0Block(x []float32, qs []byte) (d float32, ok bool) { return 0, false }

func bf16Row(x []float32, y []uint16) int { return 0 }

func f16Row(x []float32, y []uint16) int { return 0 }

func q4_1Block(x []float32, qs []byte) (d, min float32, ok bool) { return 0, 0, false }

const q4_1Available = false

func q5Quant(x []float32, sub, id, add float32, maxq int32, qs []byte) uint32 {
	return q5QuantGo(x, sub, id, add, maxq, qs)
}

func f16ToF32Row(x []uint16, y []float32) int { return 0 }

func mxfp4Indices(x []float32, ke *[16]float32, idx *[32]int32) {
	for j, v := range x[:32] {
		idx[j] = int32(bestIndexMXFP4(v, ke))
	}
}

func iq4Sums4(x, w []float32, id *[4]float32, out *[8]float32) { iq4Sums4Go(x, w, id, out) }
