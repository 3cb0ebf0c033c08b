//go:build !unix

package gguf

import "os"

// mmapFile does not map on this platform; the reader uses ReadAt.
func mmapFile(fh *os.File, size int64) ([]byte, func() error) { return nil, nil }
