package tokenizer

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these with
// context naming the file and the problem; test them with errors.Is.
var (
	// ErrNotFound: the directory holds no tokenizer file this package reads.
	ErrNotFound = errors.New("no tokenizer found")
	// ErrCorrupt: a tokenizer file is malformed (bad protobuf, bad JSON,
	// duplicate or out-of-range ids, truncated data).
	ErrCorrupt = errors.New("corrupt tokenizer file")
	// ErrUnsupported: a well-formed tokenizer this package (or llama.cpp)
	// cannot represent, such as an unknown model type.
	ErrUnsupported = errors.New("unsupported tokenizer")
	// ErrPreTokenizer: a byte-level BPE whose pre-tokenizer matches none of
	// the pre-tokenizers llama.cpp implements.
	ErrPreTokenizer = errors.New("pre-tokenizer not implemented by llama.cpp")
	// ErrSpecialToken: a special token names an id outside the vocabulary or
	// a string that is not in it.
	ErrSpecialToken = errors.New("special token outside the vocabulary")
)
