package mapping

import "errors"

// Sentinel errors of the mapping package. They are wrapped with context that
// names the file and the field; callers test with errors.Is.
var (
	// ErrBadConfig: a model config (config.json, params.json, GGUF metadata)
	// has a field of the wrong type or an impossible value.
	ErrBadConfig = errors.New("invalid model config")
	// ErrBadRules: a user mapping file is malformed.
	ErrBadRules = errors.New("invalid mapping rules")
	// ErrUnknownArch: no registered architecture has that name.
	ErrUnknownArch = errors.New("unknown architecture")
)
