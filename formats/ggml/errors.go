package ggml

import "errors"

// ErrSize reports a destination or source buffer whose length does not
// match the element count and type of the call (a caller bug, not bad
// input: input that breaks ggml's block layout wraps formats.ErrCorrupt).
var ErrSize = errors.New("ggml: buffer size mismatch")

// ErrInvalidData reports quantized data that ggml_validate_row_data
// rejects (a NaN or infinite value or block scale); llama_model_quantize
// refuses such a tensor ("quantized data validation failed").
var ErrInvalidData = errors.New("ggml: invalid quantized data")
