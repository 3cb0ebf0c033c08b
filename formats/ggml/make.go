package ggml

// Ports of ggml-quants.c's scale searches: make_qx_quants, make_q3_quants,
// make_qkx2_quants, make_qkx3_quants and make_qp_quants. The order of every
// float32 operation is the C one; products that feed a sum are rounded
// explicitly (see float.go).

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
	// only the acceptance test reads the running best. So the sums of two
	// trials are formed in one pass (twice the instruction-level parallelism
	// on the serial float additions), and the trials are then judged in the
	// C's order, giving the C's result.
	var wvBuf [32]float32
	wv := wvBuf[:n]
	for i, v := range x {
		wv[i] = w[i] * v
	}
	trials := [18]int{-9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for k := 0; k < len(trials); k += 3 {
		var is [3]float32
		for j := range is {
			is[j] = -(float32(nmax) + float32(0.1*float32(trials[k+j]))) / max
		}
		sums := qxSums3(x, w, wv, is[0], is[1], is[2], nm)
		for j := range is {
			sumlx, suml2 := sums[2*j], sums[2*j+1]
			if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
				qxLevels(x, L, is[j], nm)
				scale = sumlx / suml2
				best = scale * sumlx
			}
		}
	}
	return scale
}

// qxSums3 forms make_qx_quants' trial sums (sumlx, suml2) for three
// scales in one pass: six independent float chains.
func qxSums3(x, w, wv []float32, isA, isB, isC float32, nm int32) (s [6]float32) {
	w = w[:len(x)]
	wv = wv[:len(x)]
	var sxA, s2A, sxB, s2B, sxC, s2C float32
	for i, v := range x {
		la := float32(clampI(nearestInt(float32(isA*v)), -nm, nm-1))
		lb := float32(clampI(nearestInt(float32(isB*v)), -nm, nm-1))
		lc := float32(clampI(nearestInt(float32(isC*v)), -nm, nm-1))
		sxA += float32(wv[i] * la)
		s2A += float32(float32(w[i]*la) * la)
		sxB += float32(wv[i] * lb)
		s2B += float32(float32(w[i]*lb) * lb)
		sxC += float32(wv[i] * lc)
		s2C += float32(float32(w[i]*lc) * lc)
	}
	return [6]float32{sxA, s2A, sxB, s2B, sxC, s2C}
}

// qxSums2 forms make_qx_quants' trial sums for two scales in one pass.
func qxSums2(x, w, wv []float32, isA, isB float32, nm int32) (sxA, s2A, sxB, s2B float32) {
	w = w[:len(x)]
	wv = wv[:len(x)]
	for i, v := range x {
		la := float32(clampI(nearestInt(float32(isA*v)), -nm, nm-1))
		lb := float32(clampI(nearestInt(float32(isB*v)), -nm, nm-1))
		sxA += float32(wv[i] * la)
		s2A += float32(float32(w[i]*la) * la)
		sxB += float32(wv[i] * lb)
		s2B += float32(float32(w[i]*lb) * lb)
	}
	return
}

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
func makeQKX2Quants(n, nmax int, x, weights []float32, L, Laux []uint8,
	rmin, rdelta float32, nstep int, useMAD bool) (float32, float32) {
	return makeQKXQuants(n, nmax, x, weights[:n], L, Laux, rmin, rdelta, nstep, useMAD, false)
}

// makeQKX3Quants is make_qkx3_quants (weights nil means x*x); it returns
// the scale and the_min. n is at most 32.
func makeQKX3Quants(n, nmax int, x, weights []float32, L, Laux []uint8,
	rmin, rdelta float32, nstep int, useMAD bool) (float32, float32) {
	if weights == nil {
		var wbuf [32]float32
		for i, v := range x[:n] {
			wbuf[i] = v * v
		}
		weights = wbuf[:n]
	}
	return makeQKXQuants(n, nmax, x, weights[:n], L, Laux, rmin, rdelta, nstep, useMAD, true)
}

// makeQKXQuants is the body make_qkx2_quants and make_qkx3_quants share;
// they differ only in how they treat a flat group (max == min, or
// max <= min which also catches NaN).
func makeQKXQuants(n, nmax int, x, w []float32, L, Laux []uint8,
	rmin, rdelta float32, nstep int, useMAD, qkx3 bool) (float32, float32) {
	x = x[:n]
	w = w[:n]
	L = L[:n]
	Laux = Laux[:n]
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
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+min) - v
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestError += float32(w[i] * diff)
	}
	if nstep < 1 {
		return scale, -min
	}
	nonNeg := true
	for _, v := range w {
		nonNeg = nonNeg && v >= 0
	}
	var lauxB [32]uint8
	LauxB := lauxB[:n]
	_ = xm[len(x)-1]
	_ = Laux[len(x)-1]
	_ = LauxB[len(x)-1]
	_ = w[len(x)-1]

	// Trials are independent while min stays put, so two are computed per
	// pass over the data (more instruction-level parallelism in the serial
	// float sums) and then judged in the C's order. If the first one moves
	// min, the second is recomputed from the new min, as the C would.
	for is := 0; is <= nstep; {
		iscaleA := (float32(rmin+float32(rdelta*float32(is))) + float32(nmax)) / (max - min)
		if is == nstep {
			sumL, sumL2, sumXL := qkxSums(x, xm, w, Laux, iscaleA, nm)
			if ok, ts, tm := qkxFit(sumW, sumX, sumL, sumL2, sumXL); ok {
				if e := qkxError(x, w, Laux, ts, tm, useMAD, nonNeg, bestError); e < bestError {
					copy(L, Laux)
					scale, min = ts, tm
				}
			}
			break
		}
		iscaleB := (float32(rmin+float32(rdelta*float32(is+1))) + float32(nmax)) / (max - min)
		sumLA, sumL2A, sumXLA, sumLB, sumL2B, sumXLB := qkxSums2(x, xm, w, Laux, LauxB, iscaleA, iscaleB, nm)
		okA, tsA, tmA := qkxFit(sumW, sumX, sumLA, sumL2A, sumXLA)
		okB, tsB, tmB := qkxFit(sumW, sumX, sumLB, sumL2B, sumXLB)
		var eA, eB float32
		switch {
		case okA && okB:
			// Both errors in one pass, bounded by the current best: a sum
			// that reaches it cannot win, before or after trial A is taken.
			eA, eB = qkxError2(x, w, Laux, LauxB, tsA, tmA, tsB, tmB, useMAD, nonNeg, bestError)
		case okA:
			eA = qkxError(x, w, Laux, tsA, tmA, useMAD, nonNeg, bestError)
		case okB:
			eB = qkxError(x, w, LauxB, tsB, tmB, useMAD, nonNeg, bestError)
		}
		if okA && eA < bestError {
			copy(L, Laux)
			bestError = eA
			scale = tsA
			if tmA != min {
				min = tmA
				for i, v := range x {
					xm[i] = v - min
				}
				is++ // trial B must be redone from the new min
				continue
			}
		}
		if okB && eB < bestError {
			copy(L, LauxB)
			bestError = eB
			scale = tsB
			if tmB != min {
				min = tmB
				for i, v := range x {
					xm[i] = v - min
				}
			}
		}
		is += 2
	}
	return scale, -min
}

// qkxSums forms one make_qkx trial's levels (into la) and sums. Kept out
// of makeQKXQuants so that the compiler can hold the sums in registers.
func qkxSums(x, xm, w []float32, la []uint8, iscale float32, nm int32) (sumL, sumL2, sumXL float32) {
	xm = xm[:len(x)]
	w = w[:len(x)]
	la = la[:len(x)]
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*xm[i])), 0, nm)
		la[i] = uint8(l)
		fl := float32(l)
		wl := float32(w[i] * fl)
		sumL += wl
		sumL2 += float32(wl * fl)
		sumXL += float32(wl * v)
	}
	return
}

// qkxSums2 is qkxSums for two trial scales in one pass.
func qkxSums2(x, xm, w []float32, la, lb []uint8, iscaleA, iscaleB float32, nm int32) (sumLA, sumL2A, sumXLA, sumLB, sumL2B, sumXLB float32) {
	xm = xm[:len(x)]
	w = w[:len(x)]
	la = la[:len(x)]
	lb = lb[:len(x)]
	for i, v := range x {
		a := clampI(nearestInt(float32(iscaleA*xm[i])), 0, nm)
		b := clampI(nearestInt(float32(iscaleB*xm[i])), 0, nm)
		la[i] = uint8(a)
		lb[i] = uint8(b)
		fa, fb := float32(a), float32(b)
		wa, wb := float32(w[i]*fa), float32(w[i]*fb)
		sumLA += wa
		sumL2A += float32(wa * fa)
		sumXLA += float32(wa * v)
		sumLB += wb
		sumL2B += float32(wb * fb)
		sumXLB += float32(wb * v)
	}
	return
}

// qkxError2 is qkxError for two trials in one pass; it stops only when
// both partial sums have reached bound.
func qkxError2(x, w []float32, la, lb []uint8, tsA, tmA, tsB, tmB float32, useMAD, nonNeg bool, bound float32) (eA, eB float32) {
	la = la[:len(x)]
	lb = lb[:len(x)]
	w = w[:len(x)]
	for i, v := range x {
		dA := float32(float32(tsA*float32(la[i]))+tmA) - v
		dB := float32(float32(tsB*float32(lb[i]))+tmB) - v
		if useMAD {
			dA, dB = abs32(dA), abs32(dB)
		} else {
			dA, dB = float32(dA*dA), float32(dB*dB)
		}
		eA += float32(w[i] * dA)
		eB += float32(w[i] * dB)
		if nonNeg && eA >= bound && eB >= bound {
			break
		}
	}
	return eA, eB
}

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

// qkxError is the weighted error sum of one make_qkx trial, in the C's
// order. Every term w*|diff| or w*diff^2 is >= 0 when the weights are
// (nonNeg), and float addition of non-negative terms never decreases, so
// once the partial sum reaches bound the caller's test sum < bound is
// decided: stopping there changes no output.
func qkxError(x, w []float32, la []uint8, thisScale, thisMin float32, useMAD, nonNeg bool, bound float32) float32 {
	var curError float32
	la = la[:len(x)]
	w = w[:len(x)]
	for i, v := range x {
		diff := float32(float32(thisScale*float32(la[i]))+thisMin) - v
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		curError += float32(w[i] * diff)
		if nonNeg && curError >= bound {
			break
		}
	}
	return curError
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
