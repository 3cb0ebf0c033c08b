//go:build linux || darwin || freebsd

package engine

import (
	"context"
	"hash"
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

// hashMapped feeds the file at f to h through a read-only mapping, a chunk
// at a time (no copy through a read buffer; the pages are often already
// mapped by the conversion reading the same file), dropping each chunk's
// pages once hashed and stopping when ctx is done. ok is false when the
// file cannot be mapped; the caller then reads it.
func hashMapped(ctx context.Context, f *os.File, h hash.Hash) (n int64, ok bool, err error) {
	st, err := f.Stat()
	if err != nil || st.Size() <= 0 || int64(int(st.Size())) != st.Size() {
		return 0, false, nil
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, false, nil
	}
	defer unix.Munmap(mem)
	_ = unix.Madvise(mem, unix.MADV_SEQUENTIAL)
	const chunk = 8 << 20
	for off := 0; off < len(mem); off += chunk {
		if err := ctx.Err(); err != nil {
			return n, true, err
		}
		b := mem[off:min(off+chunk, len(mem))]
		h.Write(b)
		dropPages(b)
		n += int64(len(b))
	}
	return n, true, nil
}
