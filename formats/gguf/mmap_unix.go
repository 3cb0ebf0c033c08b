//go:build unix

package gguf

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps the whole file read-only. It returns nil when the file
// cannot be mapped (empty, too large for the address space, a pipe); the
// reader then falls back to ReadAt.
func mmapFile(fh *os.File, size int64) ([]byte, func() error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	mem, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return mem, func() error { return unix.Munmap(mem) }
}
