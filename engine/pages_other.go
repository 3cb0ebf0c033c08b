//go:build !(linux || darwin || freebsd)

package engine

import (
	"context"
	"hash"
	"os"
)

// dropPages is a no-op where madvise is not available.
func dropPages([]byte) {}

// hashMapped is unavailable here: the caller reads the file.
func hashMapped(context.Context, *os.File, hash.Hash) (int64, bool, error) { return 0, false, nil }
