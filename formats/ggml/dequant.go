package ggml

import (
	"encoding/binary"
	"math"
	"unsafe"

	"mlmf/formats"
)

// The dequantizers below are ports of ggml-quants.c's dequantize_row_* (and
// ggml.c's row converters for the scalar types). Each takes whole blocks:
// len(src) == nb*TypeSize and len(y) == nb*BlockSize, checked by Dequantize.

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func dequantF16(y []float32, src []byte) {
	done := 0
	if littleEndian && len(src) >= 2 && uintptr(unsafe.Pointer(&src[0]))%2 == 0 {
		done = f16ToF32Row(unsafe.Slice((*uint16)(unsafe.Pointer(&src[0])), len(src)/2), y)
	}
	for i := done; i < len(y); i++ {
		y[i] = fp16ToFP32(le16(src[2*i:]))
	}
}

func dequantBF16(y []float32, src []byte) {
	for i := range y {
		y[i] = bf16ToFP32(le16(src[2*i:]))
	}
}

func dequantF32(y []float32, src []byte) {
	for i := range y {
		y[i] = math.Float32frombits(le32(src[4*i:]))
	}
}

func dequantF64(y []float32, src []byte) {
	for i := range y {
		y[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func dequantI8(y []float32, src []byte) {
	for i := range y {
		y[i] = float32(int8(src[i]))
	}
}

func dequantI16(y []float32, src []byte) {
	for i := range y {
		y[i] = float32(int16(le16(src[2*i:])))
	}
}

func dequantI32(y []float32, src []byte) {
	for i := range y {
		y[i] = float32(int32(le32(src[4*i:])))
	}
}

func dequantI64(y []float32, src []byte) {
	for i := range y {
		y[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func dequantQ4_0(y []float32, src []byte) {
	for len(src) >= 18 && len(y) >= 32 {
		b, out := src[:18], y[:32]
		d := fp16ToFP32(le16(b))
		qs := b[2:18]
		for j := 0; j < 16; j++ {
			out[j] = float32(int32(qs[j]&0x0f)-8) * d
			out[j+16] = float32(int32(qs[j]>>4)-8) * d
		}
		src, y = src[18:], y[32:]
	}
}

func dequantQ4_1(y []float32, src []byte) {
	for len(src) >= 20 && len(y) >= 32 {
		b, out := src[:20], y[:32]
		d := fp16ToFP32(le16(b))
		m := fp16ToFP32(le16(b[2:]))
		qs := b[4:20]
		for j := 0; j < 16; j++ {
			out[j] = float32(float32(qs[j]&0x0f)*d) + m
			out[j+16] = float32(float32(qs[j]>>4)*d) + m
		}
		src, y = src[20:], y[32:]
	}
}

func dequantQ5_0(y []float32, src []byte) {
	for len(src) >= 22 && len(y) >= 32 {
		b, out := src[:22], y[:32]
		d := fp16ToFP32(le16(b))
		qh := le32(b[2:])
		qs := b[6:22]
		for j := 0; j < 16; j++ {
			xh0 := uint8((qh>>uint(j))<<4) & 0x10
			xh1 := uint8(qh>>uint(j+12)) & 0x10
			out[j] = float32(int32(qs[j]&0x0f|xh0)-16) * d
			out[j+16] = float32(int32(qs[j]>>4|xh1)-16) * d
		}
		src, y = src[22:], y[32:]
	}
}

func dequantQ5_1(y []float32, src []byte) {
	for len(src) >= 24 && len(y) >= 32 {
		b, out := src[:24], y[:32]
		d := fp16ToFP32(le16(b))
		m := fp16ToFP32(le16(b[2:]))
		qh := le32(b[4:])
		qs := b[8:24]
		for j := 0; j < 16; j++ {
			xh0 := uint8((qh>>uint(j))<<4) & 0x10
			xh1 := uint8(qh>>uint(j+12)) & 0x10
			out[j] = float32(float32(qs[j]&0x0f|xh0)*d) + m
			out[j+16] = float32(float32(qs[j]>>4|xh1)*d) + m
		}
		src, y = src[24:], y[32:]
	}
}

func dequantQ8_0(y []float32, src []byte) {
	for len(src) >= 34 && len(y) >= 32 {
		b, out := src[:34], y[:32]
		d := fp16ToFP32(le16(b))
		qs := b[2:34]
		for j := 0; j < 32; j++ {
			out[j] = float32(int8(qs[j])) * d
		}
		src, y = src[34:], y[32:]
	}
}

// dequantQ8_1: ggml has no dequantize_row_q8_1 (Q8_1 is the CPU backend's
// dot-product operand); its value is qs*d like Q8_0, and s = d*sum(qs) is a
// cached sum that dequantization ignores.
func dequantQ8_1(y []float32, src []byte) {
	for len(src) >= 36 && len(y) >= 32 {
		b, out := src[:36], y[:32]
		d := fp16ToFP32(le16(b))
		qs := b[4:36]
		for j := 0; j < 32; j++ {
			out[j] = float32(int8(qs[j])) * d
		}
		src, y = src[36:], y[32:]
	}
}

func dequantMXFP4(y []float32, src []byte) {
	for len(src) >= 17 && len(y) >= 32 {
		b, out := src[:17], y[:32]
		d := e8m0ToFP32Half(b[0])
		qs := b[1:17]
		for j := 0; j < 16; j++ {
			out[j] = float32(kvaluesMXFP4[qs[j]&0x0f]) * d
			out[j+16] = float32(kvaluesMXFP4[qs[j]>>4]) * d
		}
		src, y = src[17:], y[32:]
	}
}

// block_q2_K: scales[16], qs[64], d, dmin.
func dequantQ2K(y []float32, src []byte) {
	for len(src) >= 84 && len(y) >= 256 {
		b, out := src[:84], y[:256]
		sc := b[0:16]
		q := b[16:80]
		d := fp16ToFP32(le16(b[80:]))
		mn := fp16ToFP32(le16(b[82:]))
		is := 0
		o := 0
		for n := 0; n < 256; n += 128 {
			shift := uint(0)
			for j := 0; j < 4; j++ {
				s := sc[is]
				is++
				dl, ml := d*float32(s&0xf), mn*float32(s>>4)
				for l := 0; l < 16; l++ {
					out[o] = float32(dl*float32((q[l]>>shift)&3)) - ml
					o++
				}
				s = sc[is]
				is++
				dl, ml = d*float32(s&0xf), mn*float32(s>>4)
				for l := 0; l < 16; l++ {
					out[o] = float32(dl*float32((q[l+16]>>shift)&3)) - ml
					o++
				}
				shift += 2
			}
			q = q[32:]
		}
		src, y = src[84:], y[256:]
	}
}

// q3KScales unpacks block_q3_K's 12 scale bytes into 16 signed 6-bit scales
// (still offset by 32), as dequantize_row_q3_K's kmask shuffle does.
func q3KScales(s []byte, out *[16]int8) {
	const kmask1, kmask2 = 0x03030303, 0x0f0f0f0f
	a0, a1, tmp := le32(s[0:]), le32(s[4:]), le32(s[8:])
	aux := [4]uint32{
		(a0 & kmask2) | (((tmp >> 0) & kmask1) << 4),
		(a1 & kmask2) | (((tmp >> 2) & kmask1) << 4),
		((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4),
		((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4),
	}
	for i := 0; i < 16; i++ {
		out[i] = int8(aux[i/4] >> (8 * uint(i%4)))
	}
}

// block_q3_K: hmask[32], qs[64], scales[12], d.
func dequantQ3K(y []float32, src []byte) {
	var scales [16]int8
	for len(src) >= 110 && len(y) >= 256 {
		b, out := src[:110], y[:256]
		hm := b[0:32]
		q := b[32:96]
		q3KScales(b[96:108], &scales)
		dAll := fp16ToFP32(le16(b[108:]))
		m := uint8(1)
		is := 0
		o := 0
		for n := 0; n < 256; n += 128 {
			shift := uint(0)
			for j := 0; j < 4; j++ {
				dl := dAll * float32(int32(scales[is])-32)
				is++
				for l := 0; l < 16; l++ {
					v := int32((q[l]>>shift)&3) - 4
					if hm[l]&m != 0 {
						v += 4
					}
					out[o] = dl * float32(v)
					o++
				}
				dl = dAll * float32(int32(scales[is])-32)
				is++
				for l := 0; l < 16; l++ {
					v := int32((q[l+16]>>shift)&3) - 4
					if hm[l+16]&m != 0 {
						v += 4
					}
					out[o] = dl * float32(v)
					o++
				}
				shift += 2
				m <<= 1
			}
			q = q[32:]
		}
		src, y = src[110:], y[256:]
	}
}

// scaleMinK4 is get_scale_min_k4.
func scaleMinK4(j int, q []byte) (d, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xf) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

// block_q4_K: d, dmin, scales[12], qs[128].
func dequantQ4K(y []float32, src []byte) {
	for len(src) >= 144 && len(y) >= 256 {
		b, out := src[:144], y[:256]
		d := fp16ToFP32(le16(b))
		mn := fp16ToFP32(le16(b[2:]))
		scales := b[4:16]
		q := b[16:144]
		is := 0
		o := 0
		for j := 0; j < 256; j += 64 {
			sc, m := scaleMinK4(is, scales)
			d1, m1 := d*float32(sc), mn*float32(m)
			sc, m = scaleMinK4(is+1, scales)
			d2, m2 := d*float32(sc), mn*float32(m)
			for l := 0; l < 32; l++ {
				out[o+l] = float32(d1*float32(q[l]&0xf)) - m1
			}
			for l := 0; l < 32; l++ {
				out[o+32+l] = float32(d2*float32(q[l]>>4)) - m2
			}
			o += 64
			q = q[32:]
			is += 2
		}
		src, y = src[144:], y[256:]
	}
}

// block_q5_K: d, dmin, scales[12], qh[32], qs[128].
func dequantQ5K(y []float32, src []byte) {
	for len(src) >= 176 && len(y) >= 256 {
		b, out := src[:176], y[:256]
		d := fp16ToFP32(le16(b))
		mn := fp16ToFP32(le16(b[2:]))
		scales := b[4:16]
		qh := b[16:48]
		ql := b[48:176]
		is := 0
		o := 0
		u1, u2 := uint8(1), uint8(2)
		for j := 0; j < 256; j += 64 {
			sc, m := scaleMinK4(is, scales)
			d1, m1 := d*float32(sc), mn*float32(m)
			sc, m = scaleMinK4(is+1, scales)
			d2, m2 := d*float32(sc), mn*float32(m)
			for l := 0; l < 32; l++ {
				v := int32(ql[l] & 0xf)
				if qh[l]&u1 != 0 {
					v += 16
				}
				out[o+l] = float32(d1*float32(v)) - m1
			}
			for l := 0; l < 32; l++ {
				v := int32(ql[l] >> 4)
				if qh[l]&u2 != 0 {
					v += 16
				}
				out[o+32+l] = float32(d2*float32(v)) - m2
			}
			o += 64
			ql = ql[32:]
			is += 2
			u1 <<= 2
			u2 <<= 2
		}
		src, y = src[176:], y[256:]
	}
}

// block_q6_K: ql[128], qh[64], scales[16] (int8), d.
func dequantQ6K(y []float32, src []byte) {
	for len(src) >= 210 && len(y) >= 256 {
		b, out := src[:210], y[:256]
		ql := b[0:128]
		qh := b[128:192]
		sc := b[192:208]
		d := fp16ToFP32(le16(b[208:]))
		for n := 0; n < 2; n++ {
			ql, qh, sc, o := ql[64*n:], qh[32*n:], sc[8*n:], out[128*n:]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|((qh[l]>>0)&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|((qh[l]>>2)&3)<<4) - 32
				q3 := int32(ql[l]>>4|((qh[l]>>4)&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|((qh[l]>>6)&3)<<4) - 32
				o[l] = d * float32(int8(sc[is])) * float32(q1)
				o[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				o[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				o[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
		src, y = src[210:], y[256:]
	}
}

// block_q8_K: d (float32), qs[256] (int8), bsums[16] (int16).
func dequantQ8K(y []float32, src []byte) {
	for len(src) >= 292 && len(y) >= 256 {
		b, out := src[:292], y[:256]
		d := math.Float32frombits(le32(b))
		qs := b[4:260]
		for j := 0; j < 256; j++ {
			out[j] = d * float32(int8(qs[j]))
		}
		src, y = src[292:], y[256:]
	}
}

// block_tq1_0: qs[48], qh[4], d.
func dequantTQ1_0(y []float32, src []byte) {
	pow3 := [6]uint8{1, 3, 9, 27, 81, 243}
	trit := func(q, p uint8) float32 {
		q *= p
		return float32(int32((uint16(q)*3)>>8) - 1)
	}
	for len(src) >= 54 && len(y) >= 256 {
		b, out := src[:54], y[:256]
		qs := b[0:48]
		qh := b[48:52]
		d := fp16ToFP32(le16(b[52:]))
		o := 0
		for n := 0; n < 5; n++ {
			for m := 0; m < 32; m++ {
				out[o] = trit(qs[m], pow3[n]) * d
				o++
			}
		}
		for n := 0; n < 5; n++ {
			for m := 0; m < 16; m++ {
				out[o] = trit(qs[32+m], pow3[n]) * d
				o++
			}
		}
		for n := 0; n < 4; n++ {
			for j := 0; j < 4; j++ {
				out[o] = trit(qh[j], pow3[n]) * d
				o++
			}
		}
		src, y = src[54:], y[256:]
	}
}

// block_tq2_0: qs[64], d.
func dequantTQ2_0(y []float32, src []byte) {
	for len(src) >= 66 && len(y) >= 256 {
		b, out := src[:66], y[:256]
		qs := b[0:64]
		d := fp16ToFP32(le16(b[64:]))
		o := 0
		for j := 0; j < 64; j += 32 {
			for l := uint(0); l < 4; l++ {
				for m := 0; m < 32; m++ {
					out[o] = float32(int32((qs[j+m]>>(2*l))&3)-1) * d
					o++
				}
			}
		}
		src, y = src[66:], y[256:]
	}
}

var kmaskIQ2XS = [8]uint8{1, 2, 4, 8, 16, 32, 64, 128}

func sign(signs uint8, j int) float32 {
	if signs&kmaskIQ2XS[j] != 0 {
		return -1
	}
	return 1
}

// block_iq2_xxs: d, qs[32] (uint16).
func dequantIQ2XXS(y []float32, src []byte) {
	for len(src) >= 66 && len(y) >= 256 {
		b, out := src[:66], y[:256]
		d := fp16ToFP32(le16(b))
		for ib := 0; ib < 8; ib++ {
			a0 := le32(b[2+8*ib:])
			a1 := le32(b[6+8*ib:])
			db := d * (0.5 + float32(a1>>28)) * 0.25
			for l := 0; l < 4; l++ {
				grid := iq2xxsGrid[uint8(a0>>(8*uint(l)))]
				signs := ksignsIQ2XS[(a1>>(7*uint(l)))&127]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 8; j++ {
					o[j] = db * float32(uint8(grid>>(8*uint(j)))) * sign(signs, j)
				}
			}
		}
		src, y = src[66:], y[256:]
	}
}

// block_iq2_xs: d, qs[32] (uint16), scales[8].
func dequantIQ2XS(y []float32, src []byte) {
	for len(src) >= 74 && len(y) >= 256 {
		b, out := src[:74], y[:256]
		d := fp16ToFP32(le16(b))
		scales := b[66:74]
		for ib := 0; ib < 8; ib++ {
			db := [2]float32{
				d * (0.5 + float32(scales[ib]&0xf)) * 0.25,
				d * (0.5 + float32(scales[ib]>>4)) * 0.25,
			}
			for l := 0; l < 4; l++ {
				q := le16(b[2+2*(4*ib+l):])
				grid := iq2xsGrid[q&511]
				signs := ksignsIQ2XS[q>>9]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 8; j++ {
					o[j] = db[l/2] * float32(uint8(grid>>(8*uint(j)))) * sign(signs, j)
				}
			}
		}
		src, y = src[74:], y[256:]
	}
}

// block_iq2_s: d, qs[64] (grid low bits, then signs), qh[8], scales[8].
func dequantIQ2S(y []float32, src []byte) {
	for len(src) >= 82 && len(y) >= 256 {
		b, out := src[:82], y[:256]
		d := fp16ToFP32(le16(b))
		qs := b[2:34]
		signs := b[34:66]
		qh := b[66:74]
		scales := b[74:82]
		for ib := 0; ib < 8; ib++ {
			db := [2]float32{
				d * (0.5 + float32(scales[ib]&0xf)) * 0.25,
				d * (0.5 + float32(scales[ib]>>4)) * 0.25,
			}
			for l := 0; l < 4; l++ {
				dl := db[l/2]
				idx := uint32(qs[4*ib+l]) | (uint32(qh[ib])<<(8-2*uint(l)))&0x300
				grid := iq2sGrid[idx]
				s := signs[4*ib+l]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 8; j++ {
					o[j] = dl * float32(uint8(grid>>(8*uint(j)))) * sign(s, j)
				}
			}
		}
		src, y = src[82:], y[256:]
	}
}

// block_iq3_xxs: d, qs[96] (64 grid indices, then 8 scale-and-sign words).
func dequantIQ3XXS(y []float32, src []byte) {
	for len(src) >= 98 && len(y) >= 256 {
		b, out := src[:98], y[:256]
		d := fp16ToFP32(le16(b))
		qs := b[2:66]
		sas := b[66:98]
		for ib := 0; ib < 8; ib++ {
			aux := le32(sas[4*ib:])
			db := d * (0.5 + float32(aux>>28)) * 0.5
			for l := 0; l < 4; l++ {
				signs := ksignsIQ2XS[(aux>>(7*uint(l)))&127]
				g1 := iq3xxsGrid[qs[8*ib+2*l]]
				g2 := iq3xxsGrid[qs[8*ib+2*l+1]]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 4; j++ {
					o[j] = db * float32(uint8(g1>>(8*uint(j)))) * sign(signs, j)
					o[j+4] = db * float32(uint8(g2>>(8*uint(j)))) * sign(signs, j+4)
				}
			}
		}
		src, y = src[98:], y[256:]
	}
}

// block_iq3_s: d, qs[64], qh[8], signs[32], scales[4].
func dequantIQ3S(y []float32, src []byte) {
	for len(src) >= 110 && len(y) >= 256 {
		b, out := src[:110], y[:256]
		d := fp16ToFP32(le16(b))
		qs := b[2:66]
		qh := b[66:74]
		signs := b[74:106]
		scales := b[106:110]
		o := 0
		for ib := 0; ib < 8; ib += 2 {
			db := [2]float32{
				d * float32(1+2*int32(scales[ib/2]&0xf)),
				d * float32(1+2*int32(scales[ib/2]>>4)),
			}
			for h := 0; h < 2; h++ {
				for l := 0; l < 4; l++ {
					i1 := uint32(qs[2*l]) | (uint32(qh[h])<<(8-2*uint(l)))&256
					i2 := uint32(qs[2*l+1]) | (uint32(qh[h])<<(7-2*uint(l)))&256
					g1, g2 := iq3sGrid[i1], iq3sGrid[i2]
					for j := 0; j < 4; j++ {
						out[o+j] = db[h] * float32(uint8(g1>>(8*uint(j)))) * sign(signs[l], j)
						out[o+j+4] = db[h] * float32(uint8(g2>>(8*uint(j)))) * sign(signs[l], j+4)
					}
					o += 8
				}
				qs = qs[8:]
				signs = signs[4:]
			}
			qh = qh[2:]
		}
		src, y = src[110:], y[256:]
	}
}

const iq1sDelta = 0.125

// block_iq1_s: d, qs[32], qh[8] (uint16).
func dequantIQ1S(y []float32, src []byte) {
	for len(src) >= 50 && len(y) >= 256 {
		b, out := src[:50], y[:256]
		d := fp16ToFP32(le16(b))
		qs := b[2:34]
		for ib := 0; ib < 8; ib++ {
			qh := le16(b[34+2*ib:])
			dl := d * float32(2*((qh>>12)&7)+1)
			delta := float32(iq1sDelta)
			if qh&0x8000 != 0 {
				delta = -iq1sDelta
			}
			for l := 0; l < 4; l++ {
				grid := iq1sGrid[uint32(qs[4*ib+l])|uint32((qh>>(3*uint(l)))&7)<<8]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 8; j++ {
					o[j] = dl * (float32(int8(grid>>(8*uint(j)))) + delta)
				}
			}
		}
		src, y = src[50:], y[256:]
	}
}

// block_iq1_m: qs[32], qh[16], scales[8] (the fp16 super-scale is spread
// over the top nibbles of the four uint16 scale words).
func dequantIQ1M(y []float32, src []byte) {
	for len(src) >= 56 && len(y) >= 256 {
		b, out := src[:56], y[:256]
		qs := b[0:32]
		qh := b[32:48]
		var sc [4]uint16
		for k := range sc {
			sc[k] = le16(b[48+2*k:])
		}
		d := fp16ToFP32((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000))
		for ib := 0; ib < 8; ib++ {
			s := sc[ib/2]
			sh := uint(6 * (ib % 2))
			dl1 := d * float32(2*((s>>sh)&7)+1)
			dl2 := d * float32(2*((s>>(sh+3))&7)+1)
			h0, h1 := uint32(qh[2*ib]), uint32(qh[2*ib+1])
			idx := [4]uint32{
				uint32(qs[4*ib]) | (h0<<8)&0x700,
				uint32(qs[4*ib+1]) | (h0<<4)&0x700,
				uint32(qs[4*ib+2]) | (h1<<8)&0x700,
				uint32(qs[4*ib+3]) | (h1<<4)&0x700,
			}
			delta := [4]float32{iq1sDelta, iq1sDelta, iq1sDelta, iq1sDelta}
			if h0&0x08 != 0 {
				delta[0] = -iq1sDelta
			}
			if h0&0x80 != 0 {
				delta[1] = -iq1sDelta
			}
			if h1&0x08 != 0 {
				delta[2] = -iq1sDelta
			}
			if h1&0x80 != 0 {
				delta[3] = -iq1sDelta
			}
			for l := 0; l < 4; l++ {
				dl := dl1
				if l >= 2 {
					dl = dl2
				}
				grid := iq1sGrid[idx[l]]
				o := out[32*ib+8*l : 32*ib+8*l+8]
				for j := 0; j < 8; j++ {
					o[j] = dl * (float32(int8(grid>>(8*uint(j)))) + delta[l])
				}
			}
		}
		src, y = src[56:], y[256:]
	}
}

func dequantIQ4NL(y []float32, src []byte) {
	for len(src) >= 18 && len(y) >= 32 {
		b, out := src[:18], y[:32]
		d := fp16ToFP32(le16(b))
		qs := b[2:18]
		for j := 0; j < 16; j++ {
			out[j] = d * float32(kvaluesIQ4NL[qs[j]&0xf])
			out[j+16] = d * float32(kvaluesIQ4NL[qs[j]>>4])
		}
		src, y = src[18:], y[32:]
	}
}

// block_iq4_xs: d, scales_h (uint16), scales_l[4], qs[128].
func dequantIQ4XS(y []float32, src []byte) {
	for len(src) >= 136 && len(y) >= 256 {
		b, out := src[:136], y[:256]
		d := fp16ToFP32(le16(b))
		sh := le16(b[2:])
		sl := b[4:8]
		qs := b[8:136]
		for ib := 0; ib < 8; ib++ {
			ls := int32((sl[ib/2]>>(4*uint(ib%2)))&0xf) | int32((sh>>(2*uint(ib)))&3)<<4
			dl := d * float32(ls-32)
			q := qs[16*ib : 16*ib+16]
			o := out[32*ib : 32*ib+32]
			for j := 0; j < 16; j++ {
				o[j] = dl * float32(kvaluesIQ4NL[q[j]&0xf])
				o[j+16] = dl * float32(kvaluesIQ4NL[q[j]>>4])
			}
		}
		src, y = src[136:], y[256:]
	}
}

var dequantizers = map[formats.DType]func(y []float32, src []byte){
	formats.F32: dequantF32, formats.F16: dequantF16, formats.BF16: dequantBF16, formats.F64: dequantF64,
	formats.I8: dequantI8, formats.I16: dequantI16, formats.I32: dequantI32, formats.I64: dequantI64,
	formats.Q4_0: dequantQ4_0, formats.Q4_1: dequantQ4_1, formats.Q5_0: dequantQ5_0, formats.Q5_1: dequantQ5_1,
	formats.Q8_0: dequantQ8_0, formats.Q8_1: dequantQ8_1,
	formats.Q2_K: dequantQ2K, formats.Q3_K: dequantQ3K, formats.Q4_K: dequantQ4K, formats.Q5_K: dequantQ5K,
	formats.Q6_K: dequantQ6K, formats.Q8_K: dequantQ8K,
	formats.IQ1_S: dequantIQ1S, formats.IQ1_M: dequantIQ1M,
	formats.IQ2_XXS: dequantIQ2XXS, formats.IQ2_XS: dequantIQ2XS, formats.IQ2_S: dequantIQ2S,
	formats.IQ3_XXS: dequantIQ3XXS, formats.IQ3_S: dequantIQ3S,
	formats.IQ4_NL: dequantIQ4NL, formats.IQ4_XS: dequantIQ4XS,
	formats.TQ1_0: dequantTQ1_0, formats.TQ2_0: dequantTQ2_0, formats.MXFP4: dequantMXFP4,
}
