//go:build !amd64

package ggml

import "math"

// cvtt is the C conversion (int)f as x86-64 compiles it (cvttss2si):
// truncation toward zero, and 0x80000000 for NaN and out-of-range values.
// Elsewhere Go leaves those cases implementation-defined (arm64 saturates),
// so they are spelled out.
func cvtt(f float32) int32 {
	if !(f > -2147483904 && f < 2147483648) { // also catches NaN
		return math.MinInt32
	}
	return int32(f)
}
