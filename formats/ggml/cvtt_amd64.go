package ggml

// cvtt is the C conversion (int)f as x86-64 compiles it (cvttss2si):
// truncation toward zero, and 0x80000000 for NaN and out-of-range values.
// Go's own float32→int32 conversion is that very instruction on amd64.
func cvtt(f float32) int32 { return int32(f) }
