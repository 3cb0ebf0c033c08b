package formats

import "errors"

// Sentinel errors shared by every format package. Wrap them with context that
// names the file and the tensor; callers test with errors.Is.
var (
	// ErrCorrupt: the input breaks its format's rules.
	ErrCorrupt = errors.New("corrupt or malformed input")
	// ErrUnsupported: valid input that this build cannot handle (yet).
	ErrUnsupported = errors.New("unsupported")
	// ErrUnknownFormat: no registered format recognises the input.
	ErrUnknownFormat = errors.New("unknown format")
	// ErrNotFound: a named tensor, key or file does not exist.
	ErrNotFound = errors.New("not found")
)
