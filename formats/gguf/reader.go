package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"

	"mlmf/formats"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment.
const KeyAlignment = "general.alignment"

// TensorInfo describes one tensor of a GGUF file. The embedded
// formats.TensorInfo has the row-major Shape (numpy's order, outermost first)
// and the absolute Offset of the data in File; NE keeps the dimensions as
// GGUF stores them, innermost first (NE[0] is the row length).
type TensorInfo struct {
	formats.TensorInfo
	NE []int64
	// DataOffset is the offset as stored: relative to the start of the data
	// section of the split that holds the tensor.
	DataOffset uint64
	// Split is the index of the split file holding the tensor (0 for
	// single-file models).
	Split int
}

// part is one GGUF file: a whole model, or one split of a split model.
type part struct {
	name       string
	r          io.ReaderAt
	size       int64
	mem        []byte // mmap of the whole file, nil when read with ReadAt
	closer     func() error
	version    uint32
	bigEndian  bool
	kvs        []KV
	tensors    []TensorInfo
	alignment  uint64
	headerEnd  int64 // end of the tensor infos
	dataOffset int64 // start of the data section (headerEnd aligned up)
}

// File is an opened GGUF model: one file, or all splits of a gguf-split
// model presented as one. It implements formats.Reader, formats.Viewer and
// formats.Files.
type File struct {
	parts   []*part
	kvs     []KV // of the first split
	kvIndex map[string]int
	tensors []TensorInfo
	infos   []formats.TensorInfo
	byName  map[string]int
}

// Option configures NewReader.
type Option func(*options)

type options struct {
	name string
	mem  []byte
}

// WithName names the input in errors and in TensorInfo.File.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// withMem hands the reader a mapping of the whole file (Open uses it).
func withMem(mem []byte) Option { return func(o *options) { o.mem = mem } }

// NewReader parses the header of a GGUF file of the given size read through
// r. It reads the header only; tensor data is read on demand.
func NewReader(r io.ReaderAt, size int64, opts ...Option) (*File, error) {
	o := options{name: "gguf input"}
	for _, opt := range opts {
		opt(&o)
	}
	p, err := parse(r, size, o.name, o.mem)
	if err != nil {
		return nil, err
	}
	return assemble([]*part{p})
}

func parse(r io.ReaderAt, size int64, name string, mem []byte) (*part, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: %s: negative size %d: %w", name, size, ErrCorrupt)
	}
	p := &part{name: name, r: r, size: size, mem: mem, alignment: DefaultAlignment}
	d := newDecoder(r, size, mem)
	wrap := func(err error) error {
		return fmt.Errorf("gguf: %s: %w", name, err)
	}
	magic, err := d.bytes(4)
	if err != nil {
		return nil, wrap(fmt.Errorf("too short for a GGUF header (%d bytes): %w", size, ErrCorrupt))
	}
	swappedMagic := string(magic) == "FUGG"
	if string(magic) != Magic && !swappedMagic {
		return nil, wrap(fmt.Errorf("bad magic %q, want %q: not a GGUF file: %w", magic, Magic, ErrCorrupt))
	}
	vb, err := d.bytes(4)
	if err != nil {
		return nil, wrap(err)
	}
	version := binary.LittleEndian.Uint32(vb)
	// Big-endian files written by gguf-py keep the magic's bytes "GGUF";
	// early llama.cpp builds on big-endian hosts wrote the magic as a native
	// uint32, "FUGG".
	if swapped := bits.ReverseBytes32(version); swappedMagic || (version&0xffff == 0 && swapped != 0 && swapped <= 0xffff) {
		// A big-endian file (gguf-py's --bigendian): the version field reads
		// as a byte-swapped small number.
		p.bigEndian = true
		d.order = binary.BigEndian
		version = swapped
	}
	p.version = version
	switch version {
	case 2, 3:
	case 1:
		return nil, wrap(fmt.Errorf("GGUF version 1 is not supported (it predates 64-bit counts; llama.cpp dropped it too): convert the file with a current llama.cpp: %w", ErrUnsupported))
	default:
		return nil, wrap(fmt.Errorf("GGUF version %d is not supported (mlmf reads versions 2 and 3): %w", version, ErrUnsupported))
	}
	nt, err := d.u64()
	if err != nil {
		return nil, wrap(err)
	}
	nkv, err := d.u64()
	if err != nil {
		return nil, wrap(err)
	}
	// A tensor info takes at least 8+0 (name) + 4 (n_dims) + 4 (type) + 8 (offset) bytes; a KV at least 8+4+1.
	nTensors, err := d.count(nt, 24, "tensor")
	if err != nil {
		return nil, wrap(err)
	}
	nKV, err := d.count(nkv, 13, "key-value")
	if err != nil {
		return nil, wrap(err)
	}

	p.kvs = make([]KV, 0, min(nKV, maxPrealloc))
	seen := make(map[string]struct{}, min(nKV, maxPrealloc))
	for i := 0; i < nKV; i++ {
		key, err := d.str(maxKeyLen)
		if err != nil {
			return nil, wrap(fmt.Errorf("key %d of %d: %w", i, nKV, err))
		}
		if _, dup := seen[key]; dup {
			return nil, wrap(fmt.Errorf("key %q appears twice: %w", key, ErrCorrupt))
		}
		seen[key] = struct{}{}
		t, err := d.u32()
		if err != nil {
			return nil, wrap(fmt.Errorf("key %q: %w", key, err))
		}
		if ValueType(t) >= numTypes {
			return nil, wrap(fmt.Errorf("key %q: unknown value type %d: %w", key, t, ErrCorrupt))
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return nil, wrap(fmt.Errorf("key %q: %w", key, err))
		}
		p.kvs = append(p.kvs, KV{Key: key, Type: ValueType(t), Value: v})
	}
	for _, kv := range p.kvs {
		if kv.Key != KeyAlignment {
			continue
		}
		a, ok := asUint(kv.Value)
		if !ok || kv.Type == TypeArray {
			return nil, wrap(fmt.Errorf("key %q: alignment must be an unsigned integer, got %s: %w", KeyAlignment, kv.Type, ErrCorrupt))
		}
		if a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return nil, wrap(fmt.Errorf("key %q: alignment %d is not a power of two between 1 and 2^30: %w", KeyAlignment, a, ErrCorrupt))
		}
		p.alignment = a
	}

	p.tensors = make([]TensorInfo, 0, min(nTensors, maxPrealloc))
	names := make(map[string]struct{}, min(nTensors, maxPrealloc))
	for i := 0; i < nTensors; i++ {
		ti, err := readTensorInfo(d, p, i, nTensors)
		if err != nil {
			return nil, wrap(err)
		}
		if _, dup := names[ti.Name]; dup {
			return nil, wrap(fmt.Errorf("tensor %q appears twice: %w", ti.Name, ErrCorrupt))
		}
		names[ti.Name] = struct{}{}
		p.tensors = append(p.tensors, ti)
	}
	p.headerEnd = d.off
	if d.off > MaxHeader {
		return nil, wrap(errTooLarge(d.off))
	}
	p.dataOffset, err = alignUp(d.off, p.alignment)
	if err != nil {
		return nil, wrap(err)
	}
	if err := p.placeTensors(); err != nil {
		return nil, wrap(err)
	}
	return p, nil
}

func readTensorInfo(d *decoder, p *part, i, n int) (TensorInfo, error) {
	name, err := d.str(maxKeyLen)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %d of %d: name: %w", i, n, err)
	}
	fail := func(format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, fmt.Errorf("tensor %q: "+format, append([]any{name}, args...)...)
	}
	nd, err := d.u32()
	if err != nil {
		return fail("%w", err)
	}
	if nd > maxDims {
		return fail("%d dimensions, at most %d allowed: %w", nd, maxDims, ErrCorrupt)
	}
	ne := make([]int64, nd)
	for j := range ne {
		v, err := d.u64()
		if err != nil {
			return fail("%w", err)
		}
		if v > math.MaxInt64 {
			return fail("dimension %d is %d, past the int64 range: %w", j, v, ErrCorrupt)
		}
		ne[j] = int64(v)
	}
	tid, err := d.u32()
	if err != nil {
		return fail("%w", err)
	}
	dt, ok := formats.FromGGML(tid)
	if !ok {
		return fail("unknown ggml type id %d (this build knows the types of llama.cpp as of 2025, up to MXFP4 = 39): %w", tid, ErrUnsupported)
	}
	off, err := d.u64()
	if err != nil {
		return fail("%w", err)
	}
	shape := make([]int64, nd)
	for j := range ne {
		shape[int(nd)-1-j] = ne[j]
	}
	sz, err := dt.ByteSize(shape)
	if err != nil {
		return fail("shape %v (ne %v) of type %v: %w", shape, ne, dt, err)
	}
	return TensorInfo{
		TensorInfo: formats.TensorInfo{Name: name, DType: dt, Shape: shape, File: p.name, Size: sz},
		NE:         ne,
		DataOffset: off,
	}, nil
}

func alignUp(x int64, a uint64) (int64, error) {
	r := uint64(x) % a
	if r == 0 {
		return x, nil
	}
	v := uint64(x) + (a - r)
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("offset %d overflows when aligned to %d: %w", x, a, ErrCorrupt)
	}
	return int64(v), nil
}

// placeTensors computes absolute offsets and checks alignment, bounds and
// overlaps.
func (p *part) placeTensors() error {
	type span struct {
		start, end int64
		i          int
	}
	spans := make([]span, 0, len(p.tensors))
	for i := range p.tensors {
		t := &p.tensors[i]
		if t.DataOffset%p.alignment != 0 {
			return fmt.Errorf("tensor %q: data offset %d is not a multiple of the alignment %d: %w", t.Name, t.DataOffset, p.alignment, ErrCorrupt)
		}
		start, carry := bits.Add64(uint64(p.dataOffset), t.DataOffset, 0)
		end, carry2 := bits.Add64(start, uint64(t.Size), 0)
		if carry != 0 || carry2 != 0 || end > math.MaxInt64 {
			return fmt.Errorf("tensor %q: data offset %d + size %d overflows: %w", t.Name, t.DataOffset, t.Size, ErrCorrupt)
		}
		if end > uint64(p.size) {
			return fmt.Errorf("tensor %q: data [%d, %d) runs past the end of the file (%d bytes); the file is truncated or corrupt: %w",
				t.Name, start, end, p.size, ErrCorrupt)
		}
		t.Offset = int64(start)
		spans = append(spans, span{int64(start), int64(end), i})
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	maxEnd, maxI := int64(-1), -1
	for _, cur := range spans {
		if cur.end == cur.start {
			continue // empty tensors occupy nothing
		}
		if maxI >= 0 && cur.start < maxEnd {
			prev := p.tensors[maxI]
			return fmt.Errorf("tensor %q: data [%d, %d) overlaps tensor %q [%d, %d): %w",
				p.tensors[cur.i].Name, cur.start, cur.end, prev.Name, prev.Offset, prev.Offset+prev.Size, ErrCorrupt)
		}
		if cur.end > maxEnd {
			maxEnd, maxI = cur.end, cur.i
		}
	}
	return nil
}

// assemble builds the model view over one or more parts.
func assemble(parts []*part) (*File, error) {
	f := &File{parts: parts, kvs: parts[0].kvs}
	f.kvIndex = make(map[string]int, len(f.kvs))
	for i, kv := range f.kvs {
		f.kvIndex[kv.Key] = i
	}
	n := 0
	for _, p := range parts {
		n += len(p.tensors)
	}
	f.tensors = make([]TensorInfo, 0, n)
	f.byName = make(map[string]int, n)
	for si, p := range parts {
		for _, t := range p.tensors {
			if _, dup := f.byName[t.Name]; dup {
				return nil, fmt.Errorf("gguf: %s: tensor %q is also in an earlier split: %w", p.name, t.Name, ErrCorrupt)
			}
			t.Split = si
			f.byName[t.Name] = len(f.tensors)
			f.tensors = append(f.tensors, t)
		}
	}
	f.infos = make([]formats.TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		f.infos[i] = t.TensorInfo
	}
	return f, nil
}

// Format returns "gguf".
func (f *File) Format() string { return "gguf" }

// Name returns the name of the (first) file.
func (f *File) Name() string { return f.parts[0].name }

// Version returns the GGUF version of the (first) file.
func (f *File) Version() uint32 { return f.parts[0].version }

// BigEndian reports whether the file is a big-endian GGUF.
func (f *File) BigEndian() bool { return f.parts[0].bigEndian }

// Alignment returns the data alignment of the (first) file.
func (f *File) Alignment() uint64 { return f.parts[0].alignment }

// DataOffset returns where the data section of the (first) file starts.
func (f *File) DataOffset() int64 { return f.parts[0].dataOffset }

// HeaderSize returns the size of the header of the (first) file without the
// padding before the data section.
func (f *File) HeaderSize() int64 { return f.parts[0].headerEnd }

// Splits returns the number of files the model is made of.
func (f *File) Splits() int { return len(f.parts) }

// Files returns the paths of the files the model is made of.
func (f *File) Files() []string {
	out := make([]string, len(f.parts))
	for i, p := range f.parts {
		out[i] = p.name
	}
	return out
}

// KVs returns the metadata in file order (of the first split for split
// models). The slice must not be modified.
func (f *File) KVs() []KV { return f.kvs }

// Get returns the key-value of key.
func (f *File) Get(key string) (KV, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return KV{}, false
	}
	return f.kvs[i], true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return "", false
	}
	s, ok := kv.Value.(string)
	return s, ok
}

// Uint returns an integer value that is non-negative, of any integer type.
func (f *File) Uint(key string) (uint64, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return asUint(kv.Value)
}

// Int returns an integer value that fits an int64, of any integer type.
func (f *File) Int(key string) (int64, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return asInt(kv.Value)
}

// Float returns a float32 or float64 value as float64.
func (f *File) Float(key string) (float64, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return false, false
	}
	b, ok := kv.Value.(bool)
	return b, ok
}

// Strings returns a string-array value.
func (f *File) Strings(key string) ([]string, bool) {
	kv, ok := f.Get(key)
	if !ok {
		return nil, false
	}
	s, ok := kv.Value.([]string)
	return s, ok
}

// Metadata returns the key-values as a map (formats.Reader). Array values are
// the typed slices KV describes.
func (f *File) Metadata() map[string]any {
	m := make(map[string]any, len(f.kvs))
	for _, kv := range f.kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// Tensors returns the tensors in file order (formats.Reader).
func (f *File) Tensors() []formats.TensorInfo { return f.infos }

// TensorInfos returns the tensors with their GGUF details, in file order.
func (f *File) TensorInfos() []TensorInfo { return f.tensors }

// Tensor returns the named tensor's info.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i], true
}

func (f *File) lookup(name string) (TensorInfo, *part, error) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Name(), name, ErrNotFound)
	}
	t := f.tensors[i]
	p := f.parts[t.Split]
	if p.bigEndian && t.DType.TypeSize() > 1 {
		return TensorInfo{}, nil, fmt.Errorf("gguf: %s: tensor %q: big-endian tensor data (%v) cannot be read as little-endian values; its metadata can: %w",
			p.name, name, t.DType, ErrUnsupported)
	}
	return t, p, nil
}

// TensorReader returns a reader over the named tensor's bytes.
func (f *File) TensorReader(name string) (*io.SectionReader, error) {
	t, p, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(p.r, t.Offset, t.Size), nil
}

// View returns the named tensor's bytes without copying when the file is
// memory-mapped (Open). It is valid until Close and must not be modified.
// As with any mapping, a file truncated by another process while mapped
// faults (SIGBUS) on access to the lost pages.
// Readers made with NewReader over something other than a mapping return
// ErrUnsupported; use TensorReader.
func (f *File) View(name string) ([]byte, error) {
	t, p, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if p.mem == nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: no memory mapping to view (opened from a reader): %w", p.name, name, ErrUnsupported)
	}
	return p.mem[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// Close releases the mappings and files.
func (f *File) Close() error {
	var errs []error
	for _, p := range f.parts {
		if p.closer != nil {
			errs = append(errs, p.closer())
			p.closer = nil
		}
		p.mem = nil
	}
	return errors.Join(errs...)
}
