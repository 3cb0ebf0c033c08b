package ggml

// Four trial scales at once. The scale searches of make_qx_quants and
// make_qkx{2,3}_quants try many scales whose sums are independent of each
// other; each lane of these kernels is one trial and runs exactly the C's
// scalar sequence for it (same operations, same order, so the same bits),
// while four trials share every instruction. The pure-Go versions below
// define the kernels; kernels_amd64.s implements them with SSE2 (which has
// no FMA, so nothing is fused), and TestKernels checks the two agree.
//
// Where the CPU has AVX2 (kernels_avx2_amd64.s, chosen at run time, see
// useAVX2) the lanes are eight: eight trials at once (qkxTrials8,
// qxTrials24), or, for the K-quants' searches, eight groups of a
// super-block at once, each lane running one group's whole search in the
// C's order (makeQKXQuants8, makeQXQuants8). Never a fused multiply-add,
// never a sum across lanes. kernels_amd64_test.go checks every AVX2 kernel
// against these definitions or the scalar ports, and the golden and fuzz
// tests run both paths.

// qkxSums4Go forms, for each lane j with scale iscale[j], the levels
// l = clamp(nearest_int(iscale[j]*xm[i]), 0, nm) and the sums
// out[j] = Σ w*l, out[4+j] = Σ (w*l)*l, out[8+j] = Σ (w*l)*x.
func qkxSums4Go(x, xm, w []float32, iscale *[4]float32, nm int32, out *[12]float32) {
	*out = [12]float32{}
	xm = xm[:len(x)]
	w = w[:len(x)]
	for i, v := range x {
		for j := 0; j < 4; j++ {
			fl := float32(clampI(nearestInt(float32(iscale[j]*xm[i])), 0, nm))
			wl := float32(w[i] * fl)
			out[j] += wl
			out[4+j] += float32(wl * fl)
			out[8+j] += float32(wl * v)
		}
	}
}

// qkxErr4Go is the weighted error of each lane's trial: with the lane's
// levels l as in qkxSums4Go and diff = (ts[j]*l + tm[j]) - x,
// out[j] = Σ w*|diff| (mad) or Σ w*diff².
func qkxErr4Go(x, xm, w []float32, iscale, ts, tm *[4]float32, nm int32, mad bool, out *[4]float32) {
	*out = [4]float32{}
	xm = xm[:len(x)]
	w = w[:len(x)]
	for i, v := range x {
		for j := 0; j < 4; j++ {
			fl := float32(clampI(nearestInt(float32(iscale[j]*xm[i])), 0, nm))
			diff := float32(float32(ts[j]*fl)+tm[j]) - v
			if mad {
				diff = abs32(diff)
			} else {
				diff = float32(diff * diff)
			}
			out[j] += float32(w[i] * diff)
		}
	}
}

// qxSums4Go forms make_qx_quants' trial sums: l = clamp(nearest_int(
// iscale[j]*x), -nm, nm-1), out[j] = Σ (w*x)*l (wv holds w*x), out[4+j] =
// Σ (w*l)*l.
func qxSums4Go(x, w, wv []float32, iscale *[4]float32, nm int32, out *[8]float32) {
	*out = [8]float32{}
	w = w[:len(x)]
	wv = wv[:len(x)]
	for i, v := range x {
		for j := 0; j < 4; j++ {
			fl := float32(clampI(nearestInt(float32(iscale[j]*v)), -nm, nm-1))
			out[j] += float32(wv[i] * fl)
			out[4+j] += float32(float32(w[i]*fl) * fl)
		}
	}
}

// q5QuantGo is the quantization loop of quantize_row_q5_{0,1}_ref for one
// block: q = MIN(maxq, (int8)(((x - sub) * id) + add)) (Q5_0: sub 0, add
// 16.5, maxq 31; Q5_1: sub min, add 0.5, maxq 127, i.e. no MIN, which with
// the later masks is the C's (uint8) conversion); qs gets the low nibbles
// and the result holds bit 4 of each q (x - 0 is x, bit for bit).
func q5QuantGo(x []float32, sub, id, add float32, maxq int32, qs []byte) uint32 {
	x = x[:32]
	qs = qs[:16]
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := uint8(min(maxq, int32(int8(cvtt(float32((x[j]-sub)*id)+add)))))
		q1 := uint8(min(maxq, int32(int8(cvtt(float32((x[j+16]-sub)*id)+add)))))
		qs[j] = q0&0x0f | (q1&0x0f)<<4
		qh |= uint32(q0&0x10) >> 4 << uint(j)
		qh |= uint32(q1&0x10) >> 4 << uint(j+16)
	}
	return qh
}

// iq4Sums4Go: for each lane's scale id[j], the sums of quantize_row_iq4_nl_impl's
// trial: q = kvalues_iq4nl[best_index_int8(id[j]*x)], out[j] = Σ (w*q)*x,
// out[4+j] = Σ (w*q)*q.
func iq4Sums4Go(x, w []float32, id *[4]float32, out *[8]float32) {
	*out = [8]float32{}
	w = w[:len(x)]
	for i, v := range x {
		for j := 0; j < 4; j++ {
			q := kvaluesIQ4NLf[bestIndexInt8(&kvaluesIQ4NLf, id[j]*v)]
			out[j] += float32(float32(w[i]*q) * v)
			out[4+j] += float32(float32(w[i]*q) * q)
		}
	}
}

// qkxRes8 is what qkxTrials8 reports for each of its eight trials j.
type qkxRes8 struct {
	isc [8]float32 // the trial's iscale, num[j]/den
	ts  [8]float32 // this_scale and this_min of the fit (lanes with ok set)
	tm  [8]float32
	err [8]float32 // cur_error (lanes with ok set)
	ok  uint32     // bit j: the fit's D > 0
}

// qkxTrials8Generic runs eight make_qkx trials (the loop body of
// make_qkx{2,3}_quants for rmin + rdelta*is + nmax = num[j]) from the
// current min: isc = num[j]/den (den = max - min), the level sums
// (qkxSums4), the fit (qkxFit) and, for batches of four with any D > 0, the
// errors (qkxErr4).
func qkxTrials8Generic(x, xm, w []float32, num *[8]float32, den, sumW, sumX float32, nm int32, mad bool, r *qkxRes8) {
	for h := 0; h < 8; h += 4 {
		var isc, ts, tm [4]float32
		for j := range isc {
			isc[j] = num[h+j] / den
			r.isc[h+j] = isc[j]
		}
		var sums [12]float32
		qkxSums4(x, xm, w, &isc, nm, &sums)
		any := false
		for j := 0; j < 4; j++ {
			ok, s, m := qkxFit(sumW, sumX, sums[j], sums[4+j], sums[8+j])
			ts[j], tm[j] = s, m
			r.ts[h+j], r.tm[h+j] = s, m
			if ok {
				any = true
				r.ok |= 1 << (h + j)
			} else {
				r.ok &^= 1 << (h + j)
			}
		}
		if !any {
			continue
		}
		var errs [4]float32
		qkxErr4(x, xm, w, &isc, &ts, &tm, nm, mad, &errs)
		copy(r.err[h:h+4], errs[:])
	}
}

// qxRes24 is what qxTrials24 reports for each of its 24 trials j.
type qxRes24 struct {
	is    [24]float32 // num[j]/max
	sumlx [24]float32
	suml2 [24]float32
	c     [24]int32 // scratch for the AVX2 kernel
}

// qxTrials24Generic runs 24 make_qx_quants trials, is = num[j]/max and the
// sums of qxSums4 for each, four at a time.
func qxTrials24Generic(x, w, wv []float32, num *[24]float32, max float32, nm int32, r *qxRes24) {
	for h := 0; h < 24; h += 4 {
		var is [4]float32
		for j := range is {
			is[j] = num[h+j] / max
			r.is[h+j] = is[j]
		}
		var sums [8]float32
		qxSums4(x, w, wv, &is, nm, &sums)
		copy(r.sumlx[h:h+4], sums[:4])
		copy(r.suml2[h:h+4], sums[4:])
	}
}

// qkxGroups8 is the state and the results of qkxGroups8AVX2 (the layout is
// the assembly's), and the transposed input it reads.
type qkxGroups8 struct {
	min0, min, max, sumW, sumX [8]float32
	bestErr, scale, bisc, bmin [8]float32
	flat                       [8]int32
	lt                         [256]int32   // levels, [8*i+g]
	lv                         [256]float32 // scratch
	xt, wt                     [256]float32 // x and weights, [8*i+g]
}

// qxGroups8 is the state and the results of qxGroups8AVX2 (the layout is
// the assembly's), and the transposed input it reads.
type qxGroups8 struct {
	scale, bis, max [8]float32
	flat            [8]int32
	lt              [256]int32   // levels, [8*i+g]
	wv              [256]float32 // w*x
	xt, wt          [256]float32 // x and weights, [8*i+g]
}

// levelsDivGo is levelsDiv: the K-quants' requantization of a group.
func levelsDivGo(x []float32, L []uint8, add, d float32, lo, hi, off int32) {
	x = x[:len(L)]
	if add == 0 {
		for i, v := range x {
			L[i] = uint8(clampI(nearestInt(v/d), lo, hi) + off)
		}
		return
	}
	for i, v := range x {
		L[i] = uint8(clampI(nearestInt((v+add)/d), lo, hi) + off)
	}
}

// levels copies group j's levels (n of them) out of the kernel's state.
func (st *qkxGroups8) levels(j, n int, L []uint8) {
	L = L[:n]
	for i := range L {
		L[i] = uint8(st.lt[8*i+j])
	}
}

// levels copies group j's levels (n of them) out of the kernel's state.
func (st *qxGroups8) levels(j, n int, L []int8) {
	L = L[:n]
	for i := range L {
		L[i] = int8(st.lt[8*i+j])
	}
}
