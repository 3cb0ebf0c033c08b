// Package safetensors reads and writes safetensors checkpoints: single
// files, memory-mapped with zero-copy tensor views, and sharded checkpoints
// with a model.safetensors.index.json.
//
// A file is an 8-byte little-endian header length N, a JSON header of N
// bytes, and the data buffer. Every header is validated before a reader is
// returned, treating the file as hostile: the header length is capped at
// MaxHeaderSize and at the file size before anything is allocated, dtype
// names must be the safetensors spellings, shapes and offsets are checked
// with overflow-safe arithmetic, the tensors must tile the data buffer with
// no holes or overlaps, and duplicate names are refused (encoding/json and
// the reference would silently keep the last one).
//
// The writer reproduces the bytes of the reference serializer (safetensors
// 0.8.0) for the same tensors and metadata; see Encode.
//
// # Reference behaviour
//
// Found by running safetensors 0.8.0 (testdata/reference/gen.py keeps the
// evidence for the writer; the reader tests pin the rest):
//
//   - Data order: tensors sorted by dtype, descending in the order of the
//     Rust Dtype enum (BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3,
//     F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32,
//     C64, F64, I64, U64; so U64 tensors come first and BOOL last), then by
//     name bytewise; no gaps, no padding between tensors.
//   - Header: compact JSON, "__metadata__" first when metadata is given
//     (even empty), then tensors in data order as
//     {"dtype":…,"shape":[…],"data_offsets":[b,e]}; strings escaped as
//     serde_json does (only '"', '\\' and control characters; \u00xx in
//     lower case; non-ASCII raw); padded with spaces so that the header
//     length is a multiple of 8. Metadata keys come in hash order (random);
//     Encode sorts them. With no tensors and an empty (not None) metadata
//     map the reference writes invalid JSON; Encode writes
//     {"__metadata__":{}}.
//   - Reading: JSON whitespace may precede the header object and pad it;
//     anything else after it (NUL bytes included) is an error. The header
//     must be UTF-8. Unknown keys inside a tensor entry are ignored;
//     duplicate dtype/shape/data_offsets keys and a second __metadata__ are
//     errors; __metadata__ may be null. Dtype names are case-sensitive.
//     Shapes and offsets must be JSON integers (no 1.0, no negatives).
//     Sub-byte dtypes (F4, F6_*) need a whole number of bytes for the whole
//     tensor, not per row.
//   - Coverage: tensors are sorted by (begin, end); each must begin where
//     the previous ended, and the last end at the end of the file. So empty
//     tensors may share an offset with each other and with the next tensor,
//     or sit at the very end, but not inside another tensor or past the end.
//   - Where this package is stricter: duplicate tensor names and duplicate
//     metadata keys are errors (the reference keeps the last one, and even
//     accepts a duplicated tensor when both entries are identical); a shape
//     whose element count overflows 2^62 is an error even when another
//     dimension is 0.
package safetensors

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync/atomic"
	"unsafe"

	"mlmf/formats"
)

// File is an opened safetensors file. Its methods are safe for concurrent
// use; views and section readers are valid until Close.
type File struct {
	name      string
	size      int64
	headerLen int64
	hd        *header

	r      io.ReaderAt // the source: the mapping, a file or the caller's reader
	data   []byte      // the whole file when memory-mapped, else nil
	unmap  func() error
	file   *os.File // closed by Close when Open had to fall back to pread
	closed atomic.Bool
}

// Option configures NewReader.
type Option func(*options)

type options struct{ name string }

// WithName sets the file name used in errors and in TensorInfo.File.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// NewReader reads and validates the header of the safetensors file of size
// bytes in r. It reads only the header; tensor bytes are read on demand.
func NewReader(r io.ReaderAt, size int64, opts ...Option) (*File, error) {
	o := options{name: "<reader>"}
	for _, opt := range opts {
		opt(&o)
	}
	return newFile(o.name, r, size, nil)
}

// newFile parses the header of the file. data, when not nil, is the whole
// file mapped into memory and r reads from it.
func newFile(name string, r io.ReaderAt, size int64, data []byte) (*File, error) {
	if size < 8 {
		if size == 0 {
			return nil, corruptf(name, "file is empty (a safetensors file starts with an 8-byte header length)")
		}
		return nil, corruptf(name, "file is %d bytes, too short for the 8-byte header length", size)
	}
	var prefix [8]byte
	if data != nil {
		copy(prefix[:], data)
	} else if err := readFull(r, prefix[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read header length: %w", name, err)
	}
	n := uint64(prefix[0]) | uint64(prefix[1])<<8 | uint64(prefix[2])<<16 | uint64(prefix[3])<<24 |
		uint64(prefix[4])<<32 | uint64(prefix[5])<<40 | uint64(prefix[6])<<48 | uint64(prefix[7])<<56
	switch {
	case n > MaxHeaderSize:
		return nil, corruptf(name, "header length %d exceeds the %d-byte limit of safetensors (not a safetensors file?)", n, MaxHeaderSize)
	case n > uint64(size-8):
		return nil, corruptf(name, "header length %d runs past the end of the %d-byte file (truncated?)", n, size)
	}
	// One allocation of exactly n bytes, never written after it is filled:
	// the header string and every tensor name cut from it share it.
	buf := make([]byte, n)
	if data != nil {
		copy(buf, data[8:8+n])
	} else if err := readFull(r, buf, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read %d-byte header: %w", name, n, err)
	}
	h := unsafe.String(unsafe.SliceData(buf), len(buf))
	hd, err := parseHeader(name, h, 8+int64(n), size-8-int64(n))
	if err != nil {
		return nil, err
	}
	return &File{name: name, size: size, headerLen: int64(n), hd: hd, r: r, data: data}, nil
}

// readFull reads len(buf) bytes at off, calling a short read what it is.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("short read (%d of %d bytes at offset %d; file truncated?): %w",
			n, len(buf), off, formats.ErrCorrupt)
	}
	return err
}

// Open opens the safetensors file at path, memory-mapping it read-only (or,
// where mapping fails, reading through the file), and validates its header.
// As with any mapping, a file truncated by another process while it is open
// makes reads of the lost pages fault.
func Open(path string) (*File, error) {
	// Stat first: opening a FIFO would block.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("safetensors: %w", notFound(err))
	} else if st.IsDir() {
		return nil, fmt.Errorf("safetensors: %s is a directory (use OpenPath or OpenSharded)", path)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s is not a regular file (%v)", path, st.Mode().Type())
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", notFound(err))
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := st.Size()
	if size >= 8 && size == int64(int(size)) {
		if data, unmap, err := mmapFile(fh, size); err == nil {
			fh.Close() // the mapping outlives the descriptor
			f, err := newFile(path, &mapReader{data: data}, size, data)
			if err != nil {
				unmap()
				return nil, err
			}
			f.r.(*mapReader).closed = &f.closed
			f.unmap = unmap
			return f, nil
		}
	}
	f, err := newFile(path, fh, size, nil)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.file = fh
	return f, nil
}

func notFound(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%w)", err, formats.ErrNotFound)
	}
	return err
}

// mapReader reads from a mapping, refusing reads after Close instead of
// faulting on unmapped memory.
type mapReader struct {
	data   []byte
	closed *atomic.Bool
}

func (m *mapReader) ReadAt(p []byte, off int64) (int, error) {
	if m.closed != nil && m.closed.Load() {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, errors.New("safetensors: negative offset")
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Format returns "safetensors".
func (f *File) Format() string { return "safetensors" }

// Name returns the file name used in errors and TensorInfo.File.
func (f *File) Name() string { return f.name }

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return f.size }

// HeaderLen returns the length N of the JSON header (with its padding); the
// data buffer starts at byte 8+N.
func (f *File) HeaderLen() int64 { return f.headerLen }

// Tensors lists the tensors in data-offset order (ties, which only empty
// tensors can have, by name). The slice must not be modified.
func (f *File) Tensors() []formats.TensorInfo { return f.hd.tensors }

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (formats.TensorInfo, bool) {
	i, ok := f.hd.index[name]
	if !ok {
		return formats.TensorInfo{}, false
	}
	return f.hd.tensors[i], true
}

// Meta returns a copy of the header's __metadata__, nil when it has none.
func (f *File) Meta() map[string]string { return maps.Clone(f.hd.meta) }

// Metadata returns the __metadata__ as a map of strings, nil when the
// header has none.
func (f *File) Metadata() map[string]any {
	if f.hd.meta == nil {
		return nil
	}
	out := make(map[string]any, len(f.hd.meta))
	for k, v := range f.hd.meta {
		out[k] = v
	}
	return out
}

func (f *File) lookup(name string) (formats.TensorInfo, error) {
	if f.closed.Load() {
		return formats.TensorInfo{}, fmt.Errorf("safetensors: %s: tensor %q: %w", f.name, name, os.ErrClosed)
	}
	i, ok := f.hd.index[name]
	if !ok {
		return formats.TensorInfo{}, fmt.Errorf("safetensors: %s: tensor %q: no such tensor: %w", f.name, name, formats.ErrNotFound)
	}
	return f.hd.tensors[i], nil
}

// View returns the bytes of the named tensor without copying them. It needs
// a memory-mapped file (Open, where mmap works); the view is valid until
// Close and must not be modified.
func (f *File) View(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if f.data == nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: file is not memory-mapped, use TensorReader: %w",
			f.name, name, formats.ErrUnsupported)
	}
	return f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// TensorReader returns a reader over the bytes of the named tensor.
func (f *File) TensorReader(name string) (*io.SectionReader, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, t.Offset, t.Size), nil
}

// Close releases the mapping or the file. Views and readers must not be used
// afterwards. Closing twice is harmless.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	var err error
	if f.unmap != nil {
		err = f.unmap()
	}
	if f.file != nil {
		if cerr := f.file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("safetensors: close %s: %w", f.name, err)
	}
	return nil
}

var (
	_ formats.Reader = (*File)(nil)
	_ formats.Viewer = (*File)(nil)
)
