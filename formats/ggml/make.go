package ggml

// Ports of ggml-quants.c's scale searches: make_qx_quants, make_q3_quants,
// make_qkx2_quants, make_qkx3_quants and make_qp_quants. The order of every
// float32 operation is the C one; products that feed a sum are rounded
// explicitly (see float.go).

import (
	"math"
	"sync/atomic"
)

const groupMaxEps = 1e-15

func clampI(l, lo, hi int32) int32 {
	if l > hi {
		l = hi
	}
	if l < lo {
		l = lo
	}
	return l
}

// rmseWeight is make_qx_quants' weight choice when qw is nil.
func rmseWeight(rmseType int, x float32) float32 {
	switch rmseType {
	case 1:
		return x * x
	case 2:
		return 1
	case 3:
		return abs32(x)
	}
	return sqrtf(abs32(x))
}

func makeQXQuants(n, nmax int, x []float32, L []int8, rmseType int, qw []float32) float32 {
	x = x[:n]
	L = L[:n]
	max, amax := amaxSigned(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	nm := int32(nmax)
	iscale := float32(-nmax) / max
	if rmseType == 0 {
		for i, v := range x {
			l := nearestInt(float32(iscale * v))
			L[i] = int8(nm + clampI(l, -nm, nm-1))
		}
		return 1 / iscale
	}
	returnEarly := false
	if rmseType < 0 {
		rmseType = -rmseType
		returnEarly = true
	}
	var wbuf [32]float32
	w := wbuf[:n]
	if qw != nil {
		copy(w, qw[:n])
	} else {
		for i, v := range x {
			w[i] = rmseWeight(rmseType, v)
		}
	}
	_ = w[len(x)-1]
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*v)), -nm, nm-1)
		L[i] = int8(l + nm)
		fl := float32(l)
		sumlx += float32(float32(w[i]*v) * fl)
		suml2 += float32(float32(w[i]*fl) * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	if returnEarly {
		if suml2 > 0 {
			return 0.5 * (scale + 1/iscale)
		}
		return 1 / iscale
	}
	best := scale * sumlx
	// The 18 trial scales (is = -9..-1, 1..9) are independent of each other;
	// only the acceptance test reads the running best. So their sums are
	// formed together (kernels.go) and the trials are then judged in the
	// C's order, giving the C's result. Only the last accepted trial's
	// levels survive in the C, so they are formed once, at the end.
	var wvBuf [32]float32
	wv := wvBuf[:n]
	for i, v := range x {
		wv[i] = w[i] * v
	}
	var num [24]float32
	copy(num[:18], qxNums(nmax)[1:])
	for k := 18; k < 24; k++ {
		num[k] = num[17]
	}
	var r qxRes24
	qxTrials24(x, w, wv, &num, max, nm, &r)
	bestK := -1
	for k := 0; k < 18; k++ {
		sumlx, suml2 := r.sumlx[k], r.suml2[k]
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			bestK = k
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	if bestK >= 0 {
		qxLevels(x, L, r.is[bestK], nm)
	}
	return scale
}

// qxNums returns make_qx_quants' iscale numerators for nmax: -nmax, then
// -(nmax + 0.1f*is) for is = -9..-1, 1..9 (computed once per nmax).
func qxNums(nmax int) *[19]float32 {
	if nmax < len(qxNumTab) {
		if t := qxNumTab[nmax].Load(); t != nil {
			return t
		}
	}
	t := new([19]float32)
	fn := float32(nmax)
	t[0] = float32(-nmax)
	for k, v := range qxTenths {
		t[1+k] = -(fn + v)
	}
	if nmax < len(qxNumTab) {
		qxNumTab[nmax].Store(t)
	}
	return t
}

var qxNumTab [64]atomic.Pointer[[19]float32]

// qxTenths is 0.1f*is for make_qx_quants' trials is = -9..-1, 1..9.
var qxTenths = func() (t [18]float32) {
	tenth := float32(0.1)
	for k := range t {
		is := k - 9
		if is >= 0 {
			is++
		}
		t[k] = tenth * float32(is)
	}
	return t
}()

// qxLevels stores make_qx_quants' levels for iscale in L.
func qxLevels(x []float32, L []int8, iscale float32, nm int32) {
	L = L[:len(x)]
	for i, v := range x {
		l := nearestInt(float32(iscale * v))
		L[i] = int8(nm + clampI(l, -nm, nm-1))
	}
}

// makeQ3Quants is make_q3_quants; L gets values in [0, 2*nmax).
func makeQ3Quants(n, nmax int, x []float32, L []int8, doRMSE bool) float32 {
	x = x[:n]
	L = L[:n]
	max, amax := amaxSigned(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	nm := int32(nmax)
	iscale := float32(-nmax) / max
	if doRMSE {
		var sumlx, suml2 float32
		for i, v := range x {
			l := clampI(nearestInt(float32(iscale*v)), -nm, nm-1)
			L[i] = int8(l)
			w := v * v
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		for itry := 0; itry < 5; itry++ {
			nChanged := 0
			for i, v := range x {
				w := v * v
				li := float32(L[i])
				slx := sumlx - float32(float32(w*v)*li)
				if slx > 0 {
					sl2 := suml2 - float32(float32(w*li)*li)
					newL := clampI(nearestInt(float32(v*sl2)/slx), -nm, nm-1)
					if newL != int32(L[i]) {
						fn := float32(newL)
						slx += float32(float32(w*v) * fn)
						sl2 += float32(float32(w*fn) * fn)
						if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
							L[i] = int8(newL)
							sumlx = slx
							suml2 = sl2
							nChanged++
						}
					}
				}
			}
			if nChanged == 0 {
				break
			}
		}
		for i := range L {
			L[i] += int8(nm)
		}
		if suml2 > 0 {
			return sumlx / suml2
		}
		return 0
	}
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*v)), -nm, nm-1)
		L[i] = int8(l + nm)
	}
	return 1 / iscale
}

// makeQKX2Quants is make_qkx2_quants; it returns the scale and the_min.
// n is at most 32.
func makeQKX2Quants(n, nmax int, x, weights []float32, L []uint8,
	rmin, rdelta float32, nstep int, useMAD bool) (float32, float32) {
	return makeQKXQuants(n, nmax, x, weights[:n], L, rmin, rdelta, nstep, useMAD, false)
}

// makeQKX3Quants is make_qkx3_quants (weights nil means x*x); it returns
// the scale and the_min. n is at most 32.
func makeQKX3Quants(n, nmax int, x, weights []float32, L []uint8,
	rmin, rdelta float32, nstep int, useMAD bool) (float32, float32) {
	if weights == nil {
		var wbuf [32]float32
		for i, v := range x[:n] {
			wbuf[i] = v * v
		}
		weights = wbuf[:n]
	}
	return makeQKXQuants(n, nmax, x, weights[:n], L, rmin, rdelta, nstep, useMAD, true)
}

// makeQKXQuants is the body make_qkx2_quants and make_qkx3_quants share;
// they differ only in how they treat a flat group (max == min, or
// max <= min which also catches NaN).
func makeQKXQuants(n, nmax int, x, w []float32, L []uint8,
	rmin, rdelta float32, nstep int, useMAD, qkx3 bool) (float32, float32) {
	x = x[:n]
	w = w[:n]
	L = L[:n]
	min, max := x[0], x[0]
	sumW := w[0]
	sumX := sumW * x[0]
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		sumW += w[i]
		sumX += float32(w[i] * x[i])
	}
	if min > 0 {
		min = 0
	}
	if max == min || qkx3 && max <= min {
		clear(L)
		return 0, -min
	}
	// The C recomputes x[i]-min for every trial scale; it only changes when
	// a better fit moves min, so it is kept in xm and refreshed then.
	var xmBuf [32]float32
	xm := xmBuf[:n]
	for i, v := range x {
		xm[i] = v - min
	}
	nm := int32(nmax)
	iscale := float32(nmax) / (max - min)
	scale := 1 / iscale
	var bestError float32
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*xm[i])), 0, nm)
		diff := float32(float32(scale*float32(l))+min) - v
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestError += float32(w[i] * diff)
	}
	// L is the levels of the last accepted trial (or of iscale): formed
	// once, at the end, from that trial's iscale and the min it ran with.
	bestIsc, bestMin := iscale, min
	if nstep >= 1 {
		// The trials are independent while min stays put: eight at a time
		// get their sums, fits and errors from qkxTrials8 (kernels.go), and
		// are then judged in the C's order. When one is taken and moves min,
		// the trials after it are redone from the new min, as the C would.
		var num [qkxMaxStep + 8]float32
		if nstep > qkxMaxStep {
			panic("ggml: make_qkx nstep too large")
		}
		for is := 0; is <= nstep; is++ {
			num[is] = float32(rmin+float32(rdelta*float32(is))) + float32(nmax)
		}
		var r qkxRes8
		for is := 0; is <= nstep; {
			k := nstep + 1 - is
			if k > 8 {
				k = 8
			}
			qkxTrials8(x, xm, w, (*[8]float32)(num[is:is+8]), max-min, sumW, sumX, nm, useMAD, &r)
			next := is + k
			for j := 0; j < k; j++ {
				if r.ok&(1<<j) == 0 || !(r.err[j] < bestError) {
					continue
				}
				bestError = r.err[j]
				scale = r.ts[j]
				bestIsc, bestMin = r.isc[j], min
				// The C sets min = this_min: compared by bits, so that a
				// +0 replacing a -0 min is kept (it shows in the_min).
				if math.Float32bits(r.tm[j]) != math.Float32bits(min) {
					min = r.tm[j]
					for i, v := range x {
						xm[i] = v - min
					}
					next = is + j + 1
					break
				}
			}
			is = next
		}
	}
	for i, v := range x {
		L[i] = uint8(clampI(nearestInt(float32(bestIsc*float32(v-bestMin))), 0, nm))
	}
	return scale, -min
}

// qkxMaxStep is the largest nstep makeQKXQuants takes (make_qkx3_quants'
// 36).
const qkxMaxStep = 40

// qkxFit is the least-squares scale and min of one make_qkx trial, with
// the C's clamp of a positive min; ok is the C's D > 0.
func qkxFit(sumW, sumX, sumL, sumL2, sumXL float32) (ok bool, thisScale, thisMin float32) {
	D := float32(sumW*sumL2) - float32(sumL*sumL)
	if !(D > 0) {
		return false, 0, 0
	}
	thisScale = (float32(sumW*sumXL) - float32(sumX*sumL)) / D
	thisMin = (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
	if thisMin > 0 {
		thisMin = 0
		thisScale = sumXL / sumL2
	}
	return true, thisScale, thisMin
}

// makeQPQuants is make_qp_quants: positive values (scales, mins) on a
// 0..nmax grid, weighted by quantWeights.
func makeQPQuants(n, nmax int, x []float32, L []uint8, quantWeights []float32) float32 {
	x = x[:n]
	L = L[:n]
	qw := quantWeights[:n]
	var max float32
	for _, v := range x {
		max = cmax(max, v)
	}
	if max < groupMaxEps {
		clear(L)
		return 0
	}
	nm := int32(nmax)
	iscale := float32(nmax) / max
	for i, v := range x {
		L[i] = uint8(nearestInt(float32(iscale * v)))
	}
	scale := 1 / iscale
	var bestMSE float32
	for i, v := range x {
		diff := v - float32(scale*float32(L[i]))
		bestMSE += float32(float32(qw[i]*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(0.1*float32(is)) + float32(nmax)) / max
		scaleIs := 1 / iscaleIs
		var mse float32
		for i, v := range x {
			l := min(nm, nearestInt(float32(iscaleIs*v)))
			diff := v - float32(scaleIs*float32(l))
			mse += float32(float32(qw[i]*diff) * diff)
		}
		if mse < bestMSE {
			bestMSE = mse
			iscale = iscaleIs
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := min(nm, nearestInt(float32(iscale*v)))
		L[i] = uint8(l)
		w := qw[i]
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		nChanged := 0
		for i, v := range x {
			w := qw[i]
			li := float32(L[i])
			slx := sumlx - float32(float32(w*v)*li)
			sl2 := suml2 - float32(float32(w*li)*li)
			if slx > 0 && sl2 > 0 {
				newL := min(nm, nearestInt(float32(v*sl2)/slx))
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(newL)
						sumlx = slx
						suml2 = sl2
						nChanged++
					}
				}
			}
		}
		if nChanged == 0 {
			break
		}
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}
