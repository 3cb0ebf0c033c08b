package ggml

// Ports of ggml-quants.c's K-quant quantizers: quantize_row_qN_K_ref (no
// importance matrix) and quantize_row_qN_K_impl (with quant_weights), as
// quantize_qN_K dispatches between them.

const qkK = 256

func packQ2Bits(qs []byte, L []uint8) {
	for j := 0; j < qkK; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
		}
	}
}

// block_q2_K: scales[16], qs[64], d, dmin.
func quantQ2K(y []byte, x []float32, qw []float32) {
	var L [qkK]uint8
	var Ls, Lm [16]uint8
	var weights, mins, scales, sw [16]float32
	const q4scale = 15
	for ib := 0; ib < len(x)/qkK; ib++ {
		xb, b := x[qkK*ib:qkK*ib+qkK], y[84*ib:84*ib+84]
		sc, qs := b[0:16], b[16:80]
		var dm, mm float32
		if qw == nil {
			var maxScale, maxMin float32
			for j := 0; j < 16; j++ {
				for l := 0; l < 16; l++ {
					weights[l] = abs32(xb[16*j+l])
				}
				scales[j], mins[j] = makeQKX2Quants(16, 3, xb[16*j:], weights[:], L[16*j:], -0.5, 0.1, 15, true)
				if scales[j] > maxScale {
					maxScale = scales[j]
				}
				if mins[j] > maxMin {
					maxMin = mins[j]
				}
			}
			if maxScale > 0 {
				iscale := q4scale / maxScale
				for j := 0; j < 16; j++ {
					sc[j] = uint8(nearestInt(float32(iscale * scales[j])))
				}
				put16(b[80:], fp32ToFP16(maxScale/q4scale))
			} else {
				clear(sc)
				put16(b[80:], fp32ToFP16(0))
			}
			if maxMin > 0 {
				iscale := q4scale / maxMin
				for j := 0; j < 16; j++ {
					l := nearestInt(float32(iscale * mins[j]))
					sc[j] |= uint8(l << 4)
				}
				put16(b[82:], fp32ToFP16(maxMin/q4scale))
			} else {
				put16(b[82:], fp32ToFP16(0))
			}
			dm, mm = fp16ToFP32(le16(b[80:])), fp16ToFP32(le16(b[82:]))
		} else {
			var sumx2 float32
			for _, v := range xb {
				sumx2 += float32(v * v)
			}
			sigma2 := sumx2 / qkK
			for j := 0; j < 16; j++ {
				q := qw[qkK*ib+16*j:]
				for l := 0; l < 16; l++ {
					v := xb[16*j+l]
					weights[l] = q[l] * sqrtf(sigma2+float32(v*v))
				}
				sw[j] = 0
				for l := 0; l < 16; l++ {
					sw[j] += weights[l]
				}
				scales[j], mins[j] = makeQKX3Quants(16, 3, xb[16*j:], weights[:], L[16*j:], -0.9, 0.05, 36, false)
			}
			dm = makeQPQuants(16, 15, scales[:], Ls[:], sw[:])
			mm = makeQPQuants(16, 15, mins[:], Lm[:], sw[:])
			put16(b[80:], fp32ToFP16(dm))
			put16(b[82:], fp32ToFP16(mm))
			dm, mm = fp16ToFP32(le16(b[80:])), fp16ToFP32(le16(b[82:]))
			for j := 0; j < 16; j++ {
				sc[j] = Ls[j] | Lm[j]<<4
			}
		}
		for j := 0; j < 16; j++ {
			d := dm * float32(sc[j]&0xf)
			if d == 0 {
				continue
			}
			m := mm * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				l := nearestInt((xb[16*j+ii] + m) / d)
				L[16*j+ii] = uint8(clampI(l, 0, 3))
			}
		}
		packQ2Bits(qs, L[:])
	}
}

// block_q3_K: hmask[32], qs[64], scales[12], d.
func quantQ3K(y []byte, x []float32, qw []float32) {
	var L [qkK]int8
	var scales, weight, sw [16]float32
	var Ls [16]int8
	for ib := 0; ib < len(x)/qkK; ib++ {
		xb, b := x[qkK*ib:qkK*ib+qkK], y[110*ib:110*ib+110]
		hmask, qs, sc := b[0:32], b[32:96], b[96:108]
		clear(sc)
		if qw == nil {
			var maxScale, amax float32
			for j := 0; j < 16; j++ {
				scales[j] = makeQ3Quants(16, 4, xb[16*j:], L[16*j:], true)
				if s := abs32(scales[j]); s > amax {
					amax = s
					maxScale = scales[j]
				}
			}
			if maxScale != 0 {
				iscale := -32 / maxScale
				for j := 0; j < 16; j++ {
					l := int32(int8(nearestInt(float32(iscale * scales[j]))))
					l = clampI(l, -32, 31) + 32
					if j < 8 {
						sc[j] = uint8(l & 0xf)
					} else {
						sc[j-8] |= uint8((l & 0xf) << 4)
					}
					l >>= 4
					sc[j%4+8] |= uint8(l << (2 * uint(j/4)))
				}
				put16(b[108:], fp32ToFP16(1/iscale))
			} else {
				put16(b[108:], fp32ToFP16(0))
			}
		} else {
			var sumx2 float32
			for _, v := range xb {
				sumx2 += float32(v * v)
			}
			sigma2 := 2 * sumx2 / qkK
			for j := 0; j < 16; j++ {
				q := qw[qkK*ib+16*j:]
				for l := 0; l < 16; l++ {
					v := xb[16*j+l]
					weight[l] = q[l] * sqrtf(sigma2+float32(v*v))
				}
				var sumw float32
				for l := 0; l < 16; l++ {
					sumw += weight[l]
				}
				sw[j] = sumw
				scales[j] = makeQXQuants(16, 4, xb[16*j:], L[16*j:], 1, weight[:])
			}
			dBlock := makeQXQuants(16, 32, scales[:], Ls[:], 1, sw[:])
			for j := 0; j < 16; j++ {
				l := int32(Ls[j])
				if j < 8 {
					sc[j] = uint8(l & 0xf)
				} else {
					sc[j-8] |= uint8((l & 0xf) << 4)
				}
				l >>= 4
				sc[j%4+8] |= uint8(l << (2 * uint(j/4)))
			}
			put16(b[108:], fp32ToFP16(dBlock))
		}
		dAll := fp16ToFP32(le16(b[108:]))
		for j := 0; j < 16; j++ {
			var s int32
			if j < 8 {
				s = int32(sc[j] & 0xf)
			} else {
				s = int32(sc[j-8] >> 4)
			}
			s = int32(int8(s|int32((sc[8+j%4]>>(2*uint(j/4)))&3)<<4)) - 32
			d := dAll * float32(int8(s))
			if d == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := clampI(nearestInt(xb[16*j+ii]/d), -4, 3)
				L[16*j+ii] = int8(l + 4)
			}
		}
		clear(hmask)
		m, hm := 0, uint8(1)
		for j := 0; j < qkK; j++ {
			if L[j] > 3 {
				hmask[m] |= hm
				L[j] -= 4
			}
			m++
			if m == qkK/8 {
				m = 0
				hm <<= 1
			}
		}
		for j := 0; j < qkK; j += 128 {
			for l := 0; l < 32; l++ {
				qs[j/4+l] = uint8(L[j+l]) | uint8(L[j+l+32])<<2 | uint8(L[j+l+64])<<4 | uint8(L[j+l+96])<<6
			}
		}
	}
}

// packK4Scales stores 6-bit scales and mins the way block_q4_K/q5_K do.
func packK4Scales(sc []byte, ls, lm []uint8) {
	for j := 0; j < 8; j++ {
		if j < 4 {
			sc[j] = ls[j]
			sc[j+4] = lm[j]
		} else {
			sc[j+4] = ls[j]&0xf | (lm[j]&0xf)<<4
			sc[j-4] |= (ls[j] >> 4) << 6
			sc[j] |= (lm[j] >> 4) << 6
		}
	}
}

// kScalesMins computes the 6-bit scales/mins of a Q4_K/Q5_K super-block
// (32-element groups) and the requantized levels in L. nmax is 15 or 31;
// st is makeQKXQuants8's scratch.
func kScalesMins(b []byte, xb []float32, qw []float32, nmax int, L *[qkK]uint8, st *qkxGroups8) {
	var Ls, Lm [8]uint8
	var weights [qkK]float32
	var mins, scales, sw [8]float32
	var deferred bool
	sc := b[4:16]
	if qw == nil {
		var maxScale, maxMin float32
		rmin, nstep := float32(-1), 20
		if nmax == 31 {
			rmin, nstep = -0.5, 15
		}
		for j := 0; j < 8; j++ {
			xs := xb[32*j : 32*j+32]
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := sqrtf(sumX2 / 32)
			ws := weights[32*j : 32*j+32]
			for l, v := range xs {
				ws[l] = avX + abs32(v)
			}
		}
		deferred = makeQKXQuants8(32, nmax, xb, weights[:], L[:], rmin, 0.1, nstep, false, false, st, &scales, &mins)
		for j := 0; j < 8; j++ {
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		for j := 0; j < 8; j++ {
			Ls[j] = min(63, uint8(nearestInt(float32(invScale*scales[j]))))
			Lm[j] = min(63, uint8(nearestInt(float32(invMin*mins[j]))))
		}
		packK4Scales(sc, Ls[:], Lm[:])
		put16(b[0:], fp32ToFP16(maxScale/63))
		put16(b[2:], fp32ToFP16(maxMin/63))
	} else {
		var sumX2 float32
		for _, v := range xb {
			sumX2 += float32(v * v)
		}
		sigma2 := 2 * sumX2 / qkK
		for j := 0; j < 8; j++ {
			xs := xb[32*j : 32*j+32]
			q := qw[32*j : 32*j+32]
			ws := weights[32*j : 32*j+32]
			for l, v := range xs {
				ws[l] = q[l] * sqrtf(sigma2+float32(v*v))
			}
			var sumw float32
			for _, w := range ws {
				sumw += w
			}
			sw[j] = sumw
		}
		deferred = makeQKXQuants8(32, nmax, xb, weights[:], L[:], -0.9, 0.05, 36, false, true, st, &scales, &mins)
		dBlock := makeQPQuants(8, 63, scales[:], Ls[:], sw[:])
		mBlock := makeQPQuants(8, 63, mins[:], Lm[:], sw[:])
		if nmax == 31 {
			for j := range Ls {
				Ls[j] = min(63, Ls[j])
				Lm[j] = min(63, Lm[j])
			}
		}
		packK4Scales(sc, Ls[:], Lm[:])
		put16(b[0:], fp32ToFP16(dBlock))
		put16(b[2:], fp32ToFP16(mBlock))
	}
	d0, m0 := fp16ToFP32(le16(b[0:])), fp16ToFP32(le16(b[2:]))
	nm := int32(nmax)
	for j := 0; j < 8; j++ {
		s, m := scaleMinK4(j, sc)
		d := d0 * float32(s)
		if d == 0 {
			if deferred {
				st.levels(j, 32, L[32*j:])
			}
			continue
		}
		dm := m0 * float32(m)
		levelsDiv(xb[32*j:32*j+32], L[32*j:32*j+32], dm, d, 0, nm, 0)
	}
}

// block_q4_K: d, dmin, scales[12], qs[128].
func quantQ4K(y []byte, x []float32, qw []float32) {
	var L [qkK]uint8
	var st qkxGroups8
	for ib := 0; ib < len(x)/qkK; ib++ {
		xb, b := x[qkK*ib:qkK*ib+qkK], y[144*ib:144*ib+144]
		var q []float32
		if qw != nil {
			q = qw[qkK*ib : qkK*ib+qkK]
		}
		kScalesMins(b, xb, q, 15, &L, &st)
		qs := b[16:144]
		for j := 0; j < qkK; j += 64 {
			for l := 0; l < 32; l++ {
				qs[j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	}
}

// block_q5_K: d, dmin, scales[12], qh[32], qs[128].
func quantQ5K(y []byte, x []float32, qw []float32) {
	var L [qkK]uint8
	var st qkxGroups8
	for ib := 0; ib < len(x)/qkK; ib++ {
		xb, b := x[qkK*ib:qkK*ib+qkK], y[176*ib:176*ib+176]
		var q []float32
		if qw != nil {
			q = qw[qkK*ib : qkK*ib+qkK]
		}
		kScalesMins(b, xb, q, 31, &L, &st)
		qh, ql := b[16:48], b[48:176]
		clear(qh)
		m1, m2 := uint8(1), uint8(2)
		for n := 0; n < qkK; n += 64 {
			for j := 0; j < 32; j++ {
				l1 := L[n+j]
				if l1 > 15 {
					l1 -= 16
					qh[j] |= m1
				}
				l2 := L[n+j+32]
				if l2 > 15 {
					l2 -= 16
					qh[j] |= m2
				}
				ql[n/2+j] = l1 | l2<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	}
}

// block_q6_K: ql[128], qh[64], scales[16] (int8), d.
func quantQ6K(y []byte, x []float32, qw []float32) {
	var L [qkK]int8
	var scales [16]float32
	var st [2]qxGroups8
	for ib := 0; ib < len(x)/qkK; ib++ {
		xb, b := x[qkK*ib:qkK*ib+qkK], y[210*ib:210*ib+210]
		var maxScale, maxAbsScale float32
		var deferred bool
		for h := 0; h < 2; h++ {
			var q []float32
			if qw != nil {
				q = qw[qkK*ib+128*h : qkK*ib+128*h+128]
			}
			deferred = makeQXQuants8(16, 32, xb[128*h:], L[128*h:], q, &st[h], (*[8]float32)(scales[8*h:]))
		}
		for j := 0; j < 16; j++ {
			s := scales[j]
			if as := abs32(s); as > maxAbsScale {
				maxAbsScale = as
				maxScale = s
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		put16(b[208:], fp32ToFP16(1/iscale))
		sc := b[192:208]
		for j := 0; j < 16; j++ {
			sc[j] = uint8(int8(min(127, nearestInt(float32(iscale*scales[j])))))
		}
		d0 := fp16ToFP32(le16(b[208:]))
		for j := 0; j < 16; j++ {
			d := d0 * float32(int8(sc[j]))
			if d == 0 {
				if deferred {
					st[j/8].levels(j%8, 16, L[16*j:])
				}
				continue
			}
			levelsDivI8(xb[16*j:16*j+16], L[16*j:16*j+16], 0, d, -32, 31, 32)
		}
		ql, qh := b[0:128], b[128:192]
		for j := 0; j < qkK; j += 128 {
			for l := 0; l < 32; l++ {
				q1 := uint8(L[j+l]) & 0xf
				q2 := uint8(L[j+l+32]) & 0xf
				q3 := uint8(L[j+l+64]) & 0xf
				q4 := uint8(L[j+l+96]) & 0xf
				ql[j/2+l] = q1 | q3<<4
				ql[j/2+l+32] = q2 | q4<<4
				qh[j/4+l] = uint8(L[j+l])>>4 | (uint8(L[j+l+32])>>4)<<2 | (uint8(L[j+l+64])>>4)<<4 | (uint8(L[j+l+96])>>4)<<6
			}
		}
	}
}
