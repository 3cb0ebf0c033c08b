package gguf

import "mlmf/formats"

// Sentinel errors. They are the shared ones of package formats, so callers
// can test with errors.Is against either name.
var (
	// ErrCorrupt: the file breaks the GGUF rules (bad magic, counts past the
	// end of the file, overlapping tensors …).
	ErrCorrupt = formats.ErrCorrupt
	// ErrUnsupported: a valid file this build cannot handle (GGUF v1,
	// big-endian tensor data, a ggml type id it does not know).
	ErrUnsupported = formats.ErrUnsupported
	// ErrNotFound: a key, tensor or split file that does not exist.
	ErrNotFound = formats.ErrNotFound
)
