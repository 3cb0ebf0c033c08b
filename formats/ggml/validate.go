package ggml

import (
	"encoding/binary"
	"fmt"
	"math"

	"mlmf/formats"
)

// scaleFields gives, per type, the byte offsets in a block of the f16
// fields ggml_validate_row_data checks (VALIDATE_ROW_DATA_D_F16_IMPL and
// _DM_F16_IMPL: d, and m or dmin).
var scaleFields = map[formats.DType][]int{
	formats.Q4_0: {0}, formats.Q4_1: {0, 2}, formats.Q5_0: {0}, formats.Q5_1: {0, 2}, formats.Q8_0: {0},
	formats.Q2_K: {80, 82}, formats.Q3_K: {108}, formats.Q4_K: {0, 2}, formats.Q5_K: {0, 2}, formats.Q6_K: {208},
	formats.IQ4_NL: {0}, formats.IQ4_XS: {0}, formats.TQ1_0: {52}, formats.TQ2_0: {64},
	formats.IQ2_XXS: {0}, formats.IQ2_XS: {0}, formats.IQ2_S: {0}, formats.IQ3_XXS: {0}, formats.IQ3_S: {0},
	formats.IQ1_S: {0},
}

// ValidateRows is ggml_validate_row_data (ggml-quants.c) for data of type
// dt: no NaN or infinite F16/BF16/F32 value or f16 block scale, no 0xFF
// (NaN) MXFP4 exponent. libggml's quantizers store the scales they fit
// without clamping them to the f16 range, so finite input near that range
// can give an infinite scale; llama_model_quantize checks every chunk it
// writes with this and refuses the tensor. Types it has no check for pass.
// The error wraps ErrInvalidData and names the first bad block.
func ValidateRows(dt formats.DType, data []byte) error {
	ts := dt.TypeSize()
	if ts <= 0 || len(data)%ts != 0 {
		return fmt.Errorf("ggml: %v: %d bytes are not whole blocks: %w", dt, len(data), ErrSize)
	}
	bad := func(f float32) bool { return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) }
	fail := func(i int, what string) error {
		return fmt.Errorf("ggml: %v: block %d: %s: %w", dt, i, what, ErrInvalidData)
	}
	switch dt {
	case formats.F16, formats.BF16:
		for i := 0; i < len(data); i += 2 {
			h := binary.LittleEndian.Uint16(data[i:])
			f := fp16ToFP32(h)
			if dt == formats.BF16 {
				f = bf16ToFP32(h)
			}
			if bad(f) {
				return fail(i/2, fmt.Sprint(f))
			}
		}
		return nil
	case formats.F32:
		for i := 0; i < len(data); i += 4 {
			if f := math.Float32frombits(binary.LittleEndian.Uint32(data[i:])); bad(f) {
				return fail(i/4, fmt.Sprint(f))
			}
		}
		return nil
	case formats.MXFP4:
		for i := 0; i < len(data); i += ts {
			if data[i] == 0xff {
				return fail(i/ts, "exponent 0xff")
			}
		}
		return nil
	}
	for b := 0; b < len(data); b += ts {
		for _, o := range scaleFields[dt] {
			if f := fp16ToFP32(binary.LittleEndian.Uint16(data[b+o:])); bad(f) {
				return fail(b/ts, fmt.Sprintf("scale %v", f))
			}
		}
	}
	return nil
}
