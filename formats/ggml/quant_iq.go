package ggml

import (
	"encoding/binary"
	"math"
)

// Ports of quantize_row_iq4_nl_impl (IQ4_NL, IQ4_XS), quantize_row_mxfp4_ref
// and quantize_row_tq{1,2}_0_ref.

// kvaluesIQ4NLf is kvalues_iq4nl as float32 (the values C promotes them to).
var kvaluesIQ4NLf = func() (f [16]float32) {
	for i, v := range kvaluesIQ4NL {
		f[i] = float32(v)
	}
	return f
}()

// bestIndexInt8 is best_index_int8 over the sorted 16-entry table val.
func bestIndexInt8(val *[16]float32, x float32) int {
	if x <= val[0] {
		return 0
	}
	if x >= val[15] {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < val[mav] {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-val[mu-1] < val[mu]-x {
		return mu - 1
	}
	return mu
}

// iq4Impl is quantize_row_iq4_nl_impl with values = kvalues_iq4nl and
// block_size 32. For IQ4_NL (superBlock 32) dh is the block's d; for IQ4_XS
// (superBlock 256) scalesH/scalesL receive the 6-bit block scales. q4 gets
// superBlock/2 bytes.
func iq4Impl(superBlock int, x []float32, dh []byte, q4 []byte, scalesH []byte, scalesL []byte,
	qw []float32, ntry int) {
	var L [qkK]uint8
	var weight [32]float32
	var scales [8]float32
	values := &kvaluesIQ4NLf
	x = x[:superBlock]

	var sigma2 float32
	for _, v := range x {
		sigma2 += float32(v * v)
	}
	sigma2 *= 2 / float32(superBlock)

	clear(q4[:superBlock/2])
	put16(dh, fp32ToFP16(0))

	var maxScale, amaxScale float32
	nb := superBlock / 32
	for ib := 0; ib < nb; ib++ {
		xb := x[32*ib : 32*ib+32]
		Lb := L[32*ib : 32*ib+32]
		if qw != nil {
			q := qw[32*ib : 32*ib+32]
			for j, v := range xb {
				weight[j] = q[j] * sqrtf(sigma2+float32(v*v))
			}
		} else {
			for j, v := range xb {
				weight[j] = v * v
			}
		}
		max, amax := amaxSigned(xb)
		if amax < groupMaxEps {
			scales[ib] = 0
			continue
		}
		var d float32
		if ntry > 0 {
			d = -max / values[0]
		} else {
			d = max / values[0]
		}
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range xb {
			al := id * v
			l := bestIndexInt8(values, al)
			Lb[j] = uint8(l)
			q := values[l]
			w := weight[j]
			sumqx += float32(float32(w*q) * v)
			sumq2 += float32(float32(w*q) * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := d * sumqx
		// The trial scales are independent; only the acceptance reads best.
		// Four at a time (kernels.go), judged in the C's order.
		for itry := -ntry; itry <= ntry; itry += 4 {
			var ids [4]float32
			var sums [8]float32
			k := ntry - itry + 1
			if k > 4 {
				k = 4
			}
			for j := 0; j < k; j++ {
				ids[j] = float32(itry+j+int(kvaluesIQ4NL[0])) / max
			}
			iq4Sums4(xb, weight[:], &ids, &sums)
			for j := 0; j < k; j++ {
				sumqx, sumq2 := sums[j], sums[4+j]
				if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
					d = sumqx / sumq2
					best = d * sumqx
				}
			}
		}
		scales[ib] = d
		if ad := abs32(d); ad > amaxScale {
			amaxScale = ad
			maxScale = d
		}
	}

	if nb > 1 {
		clear(scalesH[:2])
		var sh uint16
		d := -maxScale / 32
		put16(dh, fp32ToFP16(d))
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for ib := 0; ib < nb; ib++ {
			l := clampI(nearestInt(float32(id*scales[ib])), -32, 31)
			dl := d * float32(l)
			var idl float32
			if dl != 0 {
				idl = 1 / dl
			}
			Lb := L[32*ib : 32*ib+32]
			for j, v := range x[32*ib : 32*ib+32] {
				Lb[j] = uint8(bestIndexInt8(values, idl*v))
			}
			l += 32
			lLo, lHi := uint8(l&0xf), uint16(l>>4)
			if ib%2 == 0 {
				scalesL[ib/2] = lLo
			} else {
				scalesL[ib/2] |= lLo << 4
			}
			sh |= lHi << (2 * uint(ib%8))
		}
		binary.LittleEndian.PutUint16(scalesH, sh)
	} else {
		put16(dh, fp32ToFP16(scales[0]))
		if ntry > 0 {
			var id float32
			if scales[0] != 0 {
				id = 1 / scales[0]
			}
			for j, v := range x {
				L[j] = uint8(bestIndexInt8(values, id*v))
			}
		}
	}

	for i := 0; i < superBlock/32; i++ {
		for j := 0; j < 16; j++ {
			q4[16*i+j] = L[32*i+j] | L[32*i+16+j]<<4
		}
	}
}

// quantIQ4NL is quantize_iq4_nl (ntry 7, with or without quant_weights),
// which is what ggml_quantize_chunk uses.
func quantIQ4NL(y []byte, x []float32, qw []float32) {
	for ib := 0; ib < len(x)/32; ib++ {
		b := y[18*ib : 18*ib+18]
		var q []float32
		if qw != nil {
			q = qw[32*ib : 32*ib+32]
		}
		iq4Impl(32, x[32*ib:], b[0:2], b[2:18], nil, nil, q, 7)
	}
}

// block_iq4_xs: d, scales_h, scales_l[4], qs[128].
func quantIQ4XS(y []byte, x []float32, qw []float32) {
	for ib := 0; ib < len(x)/qkK; ib++ {
		b := y[136*ib : 136*ib+136]
		var q []float32
		if qw != nil {
			q = qw[qkK*ib : qkK*ib+qkK]
		}
		iq4Impl(qkK, x[qkK*ib:], b[0:2], b[8:136], b[2:4], b[4:8], q, 7)
	}
}

// bestIndexMXFP4 is best_index_mxfp4 (the first index of least
// |kvalues_mxfp4[i]*e - x|) with the candidates ke[i] = kvalues_mxfp4[i]*e
// computed once per block, as the same float32 products the C forms for
// every element.
//
// It scans fewer candidates and gets the same answer: for x >= 0 (or NaN)
// no negative candidate can beat index 0 (|0-x| = x <= kd+x), and for
// x < 0 no positive one can; along one side the candidates ascend in
// magnitude, so the rounded errors fall and then rise, and once a
// candidate is past x and no better, none after it can be strictly better.
func bestIndexMXFP4(x float32, ke *[16]float32) uint8 {
	best := 0
	bestErr := abs32(ke[0] - x)
	if !(x < 0) {
		for i := 1; i < 8; i++ {
			if err := abs32(ke[i] - x); err < bestErr {
				best, bestErr = i, err
			} else if ke[i] > x {
				break
			}
		}
		return uint8(best)
	}
	for i := 9; i < 16; i++ {
		if err := abs32(ke[i] - x); err < bestErr {
			best, bestErr = i, err
		} else if ke[i] < x {
			break
		}
	}
	return uint8(best)
}

// bestIndexMXFP4Full is the C loop as written, kept to test the shortcut.
func bestIndexMXFP4Full(x float32, ke *[16]float32) uint8 {
	best := 0
	bestErr := abs32(ke[0] - x)
	for i := 1; i < 16; i++ {
		if err := abs32(ke[i] - x); err < bestErr {
			best, bestErr = i, err
		}
	}
	return uint8(best)
}

// log2f is log2 rounded to float32; glibc's log2f is correctly rounded for
// the values that matter here, and so is this through float64.
func log2f(x float32) float32 { return float32(math.Log2(float64(x))) }

func floorf(x float32) float32 { return float32(math.Floor(float64(x))) }

func quantMXFP4(y []byte, x []float32, _ []float32) {
	for len(x) >= 32 && len(y) >= 17 {
		xb, b := x[:32], y[:17]
		ab, _ := absMaxBits(xb)
		amax := math.Float32frombits(ab)
		var e uint8
		if amax > 0 {
			e = uint8(cvtt(floorf(log2f(amax)) - 2 + 127))
		}
		d := e8m0ToFP32Half(e)
		b[0] = e
		var ke [16]float32
		for i, k := range kvaluesMXFP4 {
			ke[i] = float32(k) * d
		}
		var idx [32]int32
		mxfp4Indices(xb, &ke, &idx)
		for j := 0; j < 16; j++ {
			b[1+j] = uint8(idx[j]) | uint8(idx[j+16])<<4
		}
		x, y = x[32:], y[17:]
	}
}

// ternary maps x*id to 0, 1, 2 as lroundf(x*id) + 1 (truncated to int).
func ternary(v, id float32) uint8 { return uint8(int32(lroundf(v*id) + 1)) }

// block_tq1_0: qs[48], qh[4], d.
func quantTQ1_0(y []byte, x []float32, _ []float32) {
	for len(x) >= qkK && len(y) >= 54 {
		xb, b := x[:qkK], y[:54]
		d := absMaxC(xb)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b[52:], fp32ToFP16(d))
		xs := xb
		for m := 0; m < 32; m++ {
			var q uint8
			for n := 0; n < 5; n++ {
				q = q*3 + ternary(xs[m+n*32], id)
			}
			b[m] = uint8((uint16(q)*256 + (243 - 1)) / 243)
		}
		xs = xs[160:]
		for m := 0; m < 16; m++ {
			var q uint8
			for n := 0; n < 5; n++ {
				q = q*3 + ternary(xs[m+n*16], id)
			}
			b[32+m] = uint8((uint16(q)*256 + (243 - 1)) / 243)
		}
		xs = xs[80:]
		for j := 0; j < 4; j++ {
			var q uint8
			for m := 0; m < 4; m++ {
				q = q*3 + ternary(xs[j+m*4], id)
			}
			q *= 3
			b[48+j] = uint8((uint16(q)*256 + (243 - 1)) / 243)
		}
		x, y = x[qkK:], y[54:]
	}
}

// block_tq2_0: qs[64], d.
func quantTQ2_0(y []byte, x []float32, _ []float32) {
	for len(x) >= qkK && len(y) >= 66 {
		xb, b := x[:qkK], y[:66]
		d := absMaxC(xb)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b[64:], fp32ToFP16(d))
		for j := 0; j < 64; j += 32 {
			xs := xb[4*j:]
			for m := 0; m < 32; m++ {
				var q uint8
				for n := 0; n < 4; n++ {
					q += (ternary(xs[m+n*32], id) & 3) << (2 * uint(n))
				}
				b[j+m] = q
			}
		}
		x, y = x[qkK:], y[66:]
	}
}
