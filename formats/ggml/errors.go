package ggml

import "errors"

// ErrSize reports a destination or source buffer whose length does not
// match the element count and type of the call (a caller bug, not bad
// input: input that breaks ggml's block layout wraps formats.ErrCorrupt).
var ErrSize = errors.New("ggml: buffer size mismatch")
