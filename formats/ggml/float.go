package ggml

import "math"

// Scalar helpers that reproduce ggml's C arithmetic bit for bit.
//
// Go may fuse x*y+z into one FMA instruction on platforms that have one
// (arm64, ppc64le, s390x, riscv64, and amd64 with GOAMD64=v3); ggml's
// reference code is compiled without FMA on x86-64. Every product that
// feeds an addition or subtraction in this package is therefore wrapped in
// an explicit float32(...) conversion, which the Go spec defines as a
// rounding point that prevents fusion.

// fp16ToFP32 is ggml_compute_fp16_to_fp32, written on the bits: normals,
// subnormals and infinities are exact; NaNs keep their payload with the
// quiet bit set, as the C version's float multiply does on x86.
func fp16ToFP32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		if mant == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: mant * 2^-24, exact in float32
	return math.Float32frombits(sign | math.Float32bits(float32(mant)*(1.0/(1<<24))))
}

// fp32ToFP16 is ggml_compute_fp32_to_fp16 (round to nearest even, NaN to
// 0x7e00 with the sign kept).
func fp32ToFP16(f float32) uint16 {
	const scaleToInf = 0x1.0p+112
	const scaleToZero = 0x1.0p-110
	base := float32(float32(abs32(f)*scaleToInf) * scaleToZero)

	w := math.Float32bits(f)
	shl1w := w + w
	sign := w & 0x80000000
	bias := shl1w & 0xff000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits((bias>>1)+0x07800000) + base
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007c00
	mantBits := bits & 0x00000fff
	nonsign := expBits + mantBits
	if shl1w > 0xff000000 {
		nonsign = 0x7e00
	}
	return uint16(sign>>16) | uint16(nonsign)
}

// fp32ToBF16 is ggml_compute_fp32_to_bf16: round to nearest even, NaNs
// keep their upper payload and are forced quiet.
func fp32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}

func bf16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// e8m0ToFP32Half is ggml_e8m0_to_fp32_half.
func e8m0ToFP32Half(x uint8) float32 {
	if x < 2 {
		return math.Float32frombits(0x00200000 << x)
	}
	return math.Float32frombits(uint32(x-1) << 23)
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// nearestInt is ggml's nearest_int: the 1.5*2^23 magic-number rounding
// (ties to even), including its wrap-around for |x| > 2^22 (the C assert is
// compiled out in release builds).
func nearestInt(x float32) int32 {
	v := x + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// roundf is C's roundf (half away from zero).
func roundf(f float32) float32 { return float32(math.Round(float64(f))) }

// lroundf is glibc's lroundf on x86-64 for the values ggml feeds it, as
// an int: out of range and NaN give LONG_MIN, whose low 32 bits are 0.
func lroundf(f float32) int64 {
	r := math.Round(float64(f))
	if !(r >= -9223372036854775808 && r < 9223372036854775808) {
		return math.MinInt64
	}
	return int64(r)
}

func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }
