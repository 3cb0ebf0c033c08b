package ggml

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Ports of ggml-quants.c's quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0}_ref and
// the quant_weights variants quantize_row_{q4_0,q4_1,q5_0,q5_1}_impl, plus
// ggml.c's F16/BF16/F32 row converters.

func put16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

// cmax and cmin are C's MAX/MIN macros, including their NaN behaviour.
func cmax(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

func quantF32(y []byte, x []float32, _ []float32) {
	if out, ok := native16(y); ok {
		copy(unsafe.Slice((*float32)(unsafe.Pointer(&out[0])), len(x)), x)
		return
	}
	for i, v := range x {
		binary.LittleEndian.PutUint32(y[4*i:], math.Float32bits(v))
	}
}

func quantF16(y []byte, x []float32, _ []float32) {
	if out, ok := native16(y); ok {
		out = out[:len(x)]
		done := f16Row(x, out)
		for i, v := range x[done:] {
			out[done+i] = fp32ToFP16(v)
		}
		return
	}
	for i, v := range x {
		put16(y[2*i:], fp32ToFP16(v))
	}
}

func quantBF16(y []byte, x []float32, _ []float32) {
	if out, ok := native16(y); ok {
		out = out[:len(x)]
		done := bf16Row(x, out)
		out = out[done:]
		for i, u := range f32bits(x[done:]) {
			r := uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
			if u&0x7fffffff > 0x7f800000 {
				r = uint16(u>>16) | 64
			}
			out[i] = r
		}
		return
	}
	for i, v := range x {
		put16(y[2*i:], fp32ToBF16(v))
	}
}

// littleEndian reports whether this machine stores integers as GGUF does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// native16 views y as uint16s when that is the file's little-endian
// layout and y is aligned for it (y[0] 4-byte aligned, so the float32 view
// of F32 rows is aligned too); otherwise callers take the byte path.
func native16(y []byte) ([]uint16, bool) {
	if !littleEndian || len(y) < 2 || uintptr(unsafe.Pointer(&y[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&y[0])), len(y)/2), true
}

func quantQ8_0(y []byte, x []float32, _ []float32) {
	for len(x) >= 32 && len(y) >= 34 {
		xb, b := x[:32], y[:34]
		d, ok := q8_0Block(xb, b[2:34])
		if !ok {
			d = q8_0BlockGo(xb, b[2:34])
		}
		put16(b, fp32ToFP16(d))
		x, y = x[32:], y[34:]
	}
}

// q8_0BlockGo is one block of quantize_row_q8_0_ref: it fills qs[:32] and
// returns d (q8_0Block is the same with SSE2, for blocks of finite values).
func q8_0BlockGo(xb []float32, qs []byte) float32 {
	xb = xb[:32]
	qs = qs[:32]
	d := absMaxC(xb) / ((1 << 7) - 1)
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j, v := range xb {
		qs[j] = uint8(cvtt(roundf(v * id)))
	}
	return d
}

// absMaxBits returns the largest |v| in xb as float32 bits, ignoring NaNs,
// and whether xb holds a NaN. Comparing the bits of non-NaN magnitudes as
// integers orders them as floats do, and compiles without branches.
func absMaxBits(xb []float32) (amax uint32, nan bool) {
	u := f32bits(xb)
	var m0, m1, m2, m3 uint32
	i := 0
	for ; i+4 <= len(u); i += 4 {
		m0 = max(m0, u[i]&^(1<<31))
		m1 = max(m1, u[i+1]&^(1<<31))
		m2 = max(m2, u[i+2]&^(1<<31))
		m3 = max(m3, u[i+3]&^(1<<31))
	}
	for ; i < len(u); i++ {
		m0 = max(m0, u[i]&^(1<<31))
	}
	amax = max(m0, m1, m2, m3)
	if amax <= 0x7f800000 {
		return amax, false
	}
	// a NaN is the largest "magnitude": redo without NaNs
	amax = 0
	for _, b := range u {
		if a := b &^ (1 << 31); a <= 0x7f800000 {
			amax = max(amax, a)
		}
	}
	return amax, true
}

// f32bits views float32s as their IEEE bits without copying.
func f32bits(x []float32) []uint32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
}

// amaxSigned returns the element of largest magnitude (the first of ties,
// +0 when all are zero or NaN) and that magnitude, as the C loop
// `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }` leaves them.
func amaxSigned(xb []float32) (max, amax float32) {
	ab, _ := absMaxBits(xb)
	if ab == 0 {
		return 0, 0
	}
	for i, b := range f32bits(xb) {
		if b&^(1<<31) == ab {
			return xb[i], math.Float32frombits(ab)
		}
	}
	panic("unreachable")
}

// absMaxC is the C loop `amax = MAX(amax, fabsf(v))` (MAX(a, b) being
// a > b ? a : b, so a NaN element resets amax to NaN and the following
// elements take over again).
func absMaxC(xb []float32) float32 {
	ab, nan := absMaxBits(xb)
	if !nan {
		return math.Float32frombits(ab)
	}
	var amax float32
	for _, v := range xb {
		amax = cmax(amax, abs32(v))
	}
	return amax
}

// minMax is the C loop `if (v < min) min = v; if (v > max) max = v;` from
// min = FLT_MAX, max = -FLT_MAX. Without NaNs and unless a result is a
// zero (where C keeps the first of +0 and -0), it equals the minimum and
// maximum of the floats' order-preserving integer keys, found branch-free.
func minMax(xb []float32) (lo32, hi32 float32) {
	u := f32bits(xb)
	key := func(b uint32) int32 { return int32(b) ^ (int32(b)>>31)&0x7fffffff }
	lo, hi := key(math.Float32bits(math.MaxFloat32)), key(math.Float32bits(-math.MaxFloat32))
	var amax uint32
	for _, b := range u {
		k := key(b)
		lo = min32(lo, k)
		hi = max32(hi, k)
		amax = max(amax, b&^(1<<31))
	}
	if amax <= 0x7f800000 && lo != 0 && lo != -1 && hi != 0 && hi != -1 {
		unkey := func(k int32) float32 { return math.Float32frombits(uint32(k ^ (k>>31)&0x7fffffff)) }
		return unkey(lo), unkey(hi)
	}
	lo32, hi32 = math.MaxFloat32, -math.MaxFloat32
	for _, v := range xb {
		if v < lo32 {
			lo32 = v
		}
		if v > hi32 {
			hi32 = v
		}
	}
	return lo32, hi32
}

func min32(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// rowSigma2 is sum(x*x)/n over a whole row, the variance proxy of the
// *_impl quantizers.
func rowSigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s / float32(len(x))
}

func importance(weight, xb, qw []float32, sigma2 float32) {
	for j := range weight {
		weight[j] = qw[j] * sqrtf(sigma2+float32(xb[j]*xb[j]))
	}
}

func quantQ4_0(y []byte, x []float32, qw []float32) {
	if qw != nil {
		quantQ4_0Impl(y, x, qw)
		return
	}
	for len(x) >= 32 && len(y) >= 18 {
		xb, b := x[:32], y[:18]
		d, ok := q4_0Block(xb, b[2:18])
		if !ok {
			d = q4_0BlockGo(xb, b[2:18])
		}
		put16(b, fp32ToFP16(d))
		x, y = x[32:], y[18:]
	}
}

// q4_0BlockGo is one block of quantize_row_q4_0_ref: it fills qs[:16] and
// returns d (q4_0Block is the same with SSE2, for blocks without NaNs).
func q4_0BlockGo(xb []float32, qs []byte) float32 {
	xb = xb[:32]
	qs = qs[:16]
	max, _ := amaxSigned(xb)
	d := max / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j := 0; j < 16; j++ {
		xi0 := min(15, int32(int8(cvtt(float32(xb[j]*id)+8.5))))
		xi1 := min(15, int32(int8(cvtt(float32(xb[j+16]*id)+8.5))))
		qs[j] = uint8(xi0) | uint8(xi1)<<4
	}
	return d
}

func quantQ4_0Impl(y []byte, x []float32, qw []float32) {
	var weight [32]float32
	var L [32]int8
	sigma2 := rowSigma2(x)
	for ib := 0; ib < len(x)/32; ib++ {
		xb, b := x[32*ib:32*ib+32], y[18*ib:18*ib+18]
		importance(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		d := makeQXQuants(32, 8, xb, L[:], 1, weight[:])
		put16(b, fp32ToFP16(d))
		for j := 0; j < 16; j++ {
			b[2+j] = uint8(L[j]) | uint8(L[j+16])<<4
		}
	}
}

func quantQ4_1(y []byte, x []float32, qw []float32) {
	if qw != nil {
		quantQ4_1Impl(y, x, qw)
		return
	}
	for len(x) >= 32 && len(y) >= 20 {
		xb, b := x[:32], y[:20]
		d, min, ok := q4_1Block(xb, b[4:20])
		if !ok {
			d, min = q4_1BlockGo(xb, b[4:20])
		}
		put16(b, fp32ToFP16(d))
		put16(b[2:], fp32ToFP16(min))
		x, y = x[32:], y[20:]
	}
}

// q4_1BlockGo is one block of quantize_row_q4_1_ref: it fills qs[:16] and
// returns d and min.
func q4_1BlockGo(xb []float32, qs []byte) (d, min float32) {
	xb = xb[:32]
	qs = qs[:16]
	min, max := minMax(xb)
	d = (max - min) / ((1 << 4) - 1)
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j := 0; j < 16; j++ {
		xi0 := minI32(15, int32(int8(cvtt(float32((xb[j]-min)*id)+0.5))))
		xi1 := minI32(15, int32(int8(cvtt(float32((xb[j+16]-min)*id)+0.5))))
		qs[j] = uint8(xi0) | uint8(xi1)<<4
	}
	return d, min
}

func minI32(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}

func quantQ4_1Impl(y []byte, x []float32, qw []float32) {
	var weight [32]float32
	var L [32]uint8
	sigma2 := rowSigma2(x)
	for ib := 0; ib < len(x)/32; ib++ {
		xb, b := x[32*ib:32*ib+32], y[20*ib:20*ib+20]
		importance(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		d, mn := makeQKX3Quants(32, 15, xb, weight[:], L[:], -0.9, 0.05, 36, false)
		put16(b, fp32ToFP16(d))
		put16(b[2:], fp32ToFP16(-mn))
		for j := 0; j < 16; j++ {
			b[4+j] = L[j] | L[j+16]<<4
		}
	}
}

func quantQ5_0(y []byte, x []float32, qw []float32) {
	if qw != nil {
		quantQ5_0Impl(y, x, qw)
		return
	}
	for len(x) >= 32 && len(y) >= 22 {
		xb, b := x[:32], y[:22]
		max, _ := amaxSigned(xb)
		d := max / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, fp32ToFP16(d))
		qh := q5Quant(xb, 0, id, 16.5, 31, b[6:22])
		binary.LittleEndian.PutUint32(b[2:], qh)
		x, y = x[32:], y[22:]
	}
}

func quantQ5_0Impl(y []byte, x []float32, qw []float32) {
	var weight [32]float32
	var L [32]int8
	sigma2 := rowSigma2(x)
	for ib := 0; ib < len(x)/32; ib++ {
		xb, b := x[32*ib:32*ib+32], y[22*ib:22*ib+22]
		importance(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		d := makeQXQuants(32, 16, xb, L[:], 1, weight[:])
		put16(b, fp32ToFP16(d))
		var qh uint32
		for j := 0; j < 16; j++ {
			xi0, xi1 := uint8(L[j]), uint8(L[j+16])
			b[6+j] = xi0&0x0f | (xi1&0x0f)<<4
			qh |= uint32(xi0&0x10) >> 4 << uint(j)
			qh |= uint32(xi1&0x10) >> 4 << uint(j+16)
		}
		binary.LittleEndian.PutUint32(b[2:], qh)
	}
}

func quantQ5_1(y []byte, x []float32, qw []float32) {
	if qw != nil {
		quantQ5_1Impl(y, x, qw)
		return
	}
	for len(x) >= 32 && len(y) >= 24 {
		xb, b := x[:32], y[:24]
		min, max := minMax(xb)
		d := (max - min) / ((1 << 5) - 1)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, fp32ToFP16(d))
		put16(b[2:], fp32ToFP16(min))
		qh := q5Quant(xb, min, id, 0.5, 127, b[8:24])
		binary.LittleEndian.PutUint32(b[4:], qh)
		x, y = x[32:], y[24:]
	}
}

func quantQ5_1Impl(y []byte, x []float32, qw []float32) {
	var weight [32]float32
	var L [32]uint8
	sigma2 := rowSigma2(x)
	for ib := 0; ib < len(x)/32; ib++ {
		xb, b := x[32*ib:32*ib+32], y[24*ib:24*ib+24]
		importance(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		d, mn := makeQKX3Quants(32, 31, xb, weight[:], L[:], -0.9, 0.05, 36, false)
		put16(b, fp32ToFP16(d))
		put16(b[2:], fp32ToFP16(-mn))
		var qh uint32
		for j := 0; j < 16; j++ {
			xi0, xi1 := L[j], L[j+16]
			b[8+j] = xi0&0x0f | (xi1&0x0f)<<4
			qh |= uint32(xi0&0x10) >> 4 << uint(j)
			qh |= uint32(xi1&0x10) >> 4 << uint(j+16)
		}
		binary.LittleEndian.PutUint32(b[4:], qh)
	}
}
