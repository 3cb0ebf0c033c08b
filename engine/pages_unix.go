//go:build linux || darwin || freebsd

package engine

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = uintptr(os.Getpagesize())

// dropPages tells the kernel that the whole pages inside b, a slice of a
// read-only file mapping, will not be read again, so that they leave this
// process's resident set (they stay in the page cache). This keeps resident
// memory bounded by the working chunk while streaming a model larger than
// RAM through a mapping.
func dropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (base + pageSize - 1) &^ (pageSize - 1)
	end := (base + uintptr(len(b))) &^ (pageSize - 1)
	if end <= start {
		return
	}
	b = b[start-base : end-base]
	_ = unix.Madvise(b, unix.MADV_DONTNEED)
}
