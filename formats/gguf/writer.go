package gguf

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"mlmf/formats"
	"mlmf/internal/atomicfile"
)

// Version is the GGUF version the writer produces.
const Version = 3

// maxNameLen is llama.cpp's GGML_MAX_NAME: tensor names must be shorter.
const maxNameLen = 64

// encoder appends little-endian GGUF encodings to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) value(v any, depth int) error {
	switch x := v.(type) {
	case uint8:
		e.b = append(e.b, x)
	case int8:
		e.b = append(e.b, byte(x))
	case bool:
		if x {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case uint16:
		e.b = binary.LittleEndian.AppendUint16(e.b, x)
	case int16:
		e.b = binary.LittleEndian.AppendUint16(e.b, uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	default:
		return e.array(v, depth+1)
	}
	return nil
}

func (e *encoder) array(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("arrays nested deeper than %d: %w", maxDepth, ErrUnsupported)
	}
	_, elem, err := typeOf(v)
	if err != nil {
		return err
	}
	e.u32(uint32(elem))
	switch x := v.(type) {
	case []uint8:
		e.u64(uint64(len(x)))
		e.b = append(e.b, x...)
	case []int8:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.b = append(e.b, byte(y))
		}
	case []bool:
		e.u64(uint64(len(x)))
		for _, y := range x {
			_ = e.value(y, depth)
		}
	case []uint16:
		e.u64(uint64(len(x)))
		for _, y := range x {
			_ = e.value(y, depth)
		}
	case []int16:
		e.u64(uint64(len(x)))
		for _, y := range x {
			_ = e.value(y, depth)
		}
	case []uint32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(y)
		}
	case []int32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(uint32(y))
		}
	case []float32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(math.Float32bits(y))
		}
	case []uint64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(y)
		}
	case []int64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(uint64(y))
		}
	case []float64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(math.Float64bits(y))
		}
	case []string:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.str(y)
		}
	case []any:
		e.u64(uint64(len(x)))
		for i, y := range x {
			if _, _, err := typeOf(y); err != nil {
				return err
			}
			if t, _, _ := typeOf(y); t != TypeArray {
				return fmt.Errorf("element %d of an array of arrays is a %s: %w", i, t, ErrUnsupported)
			}
			if err := e.array(y, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// layout is a planned file: its header bytes and where each tensor goes.
type layout struct {
	header    []byte // up to and including the padding before the data
	alignment uint64
	sizes     []int64 // data bytes of each tensor
	offsets   []uint64
	total     int64 // whole file size
}

// alignmentOf returns general.alignment from kvs, or the default.
func alignmentOf(kvs []KV) (uint64, error) {
	for _, kv := range kvs {
		if kv.Key != KeyAlignment {
			continue
		}
		a, ok := kv.Value.(uint32)
		if !ok {
			// llama.cpp reads it with gguf_get_val_u32, which aborts on any
			// other type; gguf-py refuses other types too.
			return 0, fmt.Errorf("%s must be a uint32, got %T: %w", KeyAlignment, kv.Value, ErrCorrupt)
		}
		if a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return 0, fmt.Errorf("%s %d is not a power of two between 1 and 2^30: %w", KeyAlignment, a, ErrCorrupt)
		}
		return uint64(a), nil
	}
	return DefaultAlignment, nil
}

func checkKVs(kvs []KV) error {
	seen := make(map[string]struct{}, len(kvs))
	for _, kv := range kvs {
		if _, dup := seen[kv.Key]; dup {
			return fmt.Errorf("key %q given twice: %w", kv.Key, ErrCorrupt)
		}
		seen[kv.Key] = struct{}{}
		t, _, err := typeOf(kv.Value)
		if err != nil {
			return fmt.Errorf("key %q: %w", kv.Key, err)
		}
		if t != kv.Type {
			return fmt.Errorf("key %q: Type is %s but the value is a %T (%s): %w", kv.Key, kv.Type, kv.Value, t, ErrCorrupt)
		}
	}
	return nil
}

// plan lays out a file: header (KVs in the order given, then tensor infos in
// the order given), then each tensor's data at the next aligned offset.
func plan(kvs []KV, tensors []formats.Tensor) (*layout, error) {
	if err := checkKVs(kvs); err != nil {
		return nil, err
	}
	align, err := alignmentOf(kvs)
	if err != nil {
		return nil, err
	}
	l := &layout{alignment: align, sizes: make([]int64, len(tensors)), offsets: make([]uint64, len(tensors))}
	e := &encoder{b: make([]byte, 0, 4096)}
	e.b = append(e.b, Magic...)
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		if err := e.value(kv.Value, 0); err != nil {
			return nil, fmt.Errorf("key %q: %w", kv.Key, err)
		}
	}
	names := make(map[string]struct{}, len(tensors))
	var off uint64
	for i, t := range tensors {
		if _, dup := names[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q given twice: %w", t.Name, ErrCorrupt)
		}
		names[t.Name] = struct{}{}
		if len(t.Name) >= maxNameLen {
			return nil, fmt.Errorf("tensor %q: name of %d bytes; llama.cpp allows at most %d (GGML_MAX_NAME - 1): %w", t.Name, len(t.Name), maxNameLen-1, ErrUnsupported)
		}
		if len(t.Shape) > maxDims {
			return nil, fmt.Errorf("tensor %q: %d dimensions, GGUF allows at most %d: %w", t.Name, len(t.Shape), maxDims, ErrUnsupported)
		}
		id, ok := t.DType.GGML()
		if !ok {
			return nil, fmt.Errorf("tensor %q: dtype %v has no ggml type; convert it first: %w", t.Name, t.DType, ErrUnsupported)
		}
		size, err := t.DType.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if t.Data == nil {
			return nil, fmt.Errorf("tensor %q: no data: %w", t.Name, ErrCorrupt)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for j := len(t.Shape) - 1; j >= 0; j-- {
			e.u64(uint64(t.Shape[j]))
		}
		e.u32(id)
		e.u64(off)
		l.sizes[i] = size
		l.offsets[i] = off
		padded, err := alignUp(size, align)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if off+uint64(padded) < off || off+uint64(padded) > math.MaxInt64/2 {
			return nil, fmt.Errorf("tensor %q: data section overflows: %w", t.Name, ErrCorrupt)
		}
		off += uint64(padded)
	}
	hdr, err := alignUp(int64(len(e.b)), align)
	if err != nil {
		return nil, err
	}
	e.b = append(e.b, make([]byte, hdr-int64(len(e.b)))...)
	l.header = e.b
	l.total = hdr + int64(off)
	return l, nil
}

// HeaderBytes returns the encoded header of a file with these KVs and
// tensors (up to the start of the data section), without writing anything.
func HeaderBytes(kvs []KV, tensors []formats.Tensor) ([]byte, error) {
	l, err := plan(kvs, tensors)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return l.header, nil
}

// countingWriter counts bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var zeros [4096]byte

func writeZeros(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// stream writes a planned file to w: header, then each tensor followed by
// padding to the alignment (the last one too, as llama.cpp and gguf-py do).
func (l *layout) stream(ctx context.Context, w io.Writer, tensors []formats.Tensor) error {
	if _, err := w.Write(l.header); err != nil {
		return err
	}
	for i, t := range tensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		cw := &countingWriter{w: w}
		n, err := t.Data.WriteTo(cw)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if n != l.sizes[i] || cw.n != l.sizes[i] {
			return fmt.Errorf("tensor %q: data wrote %d bytes, but a %v tensor of shape %v takes %d: %w",
				t.Name, cw.n, t.DType, t.Shape, l.sizes[i], ErrCorrupt)
		}
		padded, _ := alignUp(n, l.alignment)
		if err := writeZeros(w, padded-n); err != nil {
			return err
		}
	}
	return nil
}

// WriteTo streams a GGUF v3 file to w: the KVs in the order given, the
// tensor infos in the order given, and the data, aligned to
// general.alignment (default 32). It returns the bytes written.
func WriteTo(ctx context.Context, w io.Writer, kvs []KV, tensors []formats.Tensor) (int64, error) {
	l, err := plan(kvs, tensors)
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	cw := &countingWriter{w: w}
	if err := l.stream(ctx, cw, tensors); err != nil {
		return cw.n, fmt.Errorf("gguf: %w", err)
	}
	return cw.n, nil
}

// Write writes a GGUF v3 file to path atomically (temporary file, fsync,
// rename). A cancelled ctx or any error leaves path untouched. The bytes
// are deterministic and, for the same KVs and tensors, the same as gguf-py's
// GGUFWriter produces.
func Write(ctx context.Context, path string, kvs []KV, tensors []formats.Tensor) error {
	return WriteDeferred(ctx, path, kvs, tensors, nil)
}

// WriteDeferred is Write with metadata completed after the tensor data:
// once every tensor is written, final (when not nil) returns the KVs to
// store instead of kvs, and the header is rewritten with them before the
// file is committed. Padded to the alignment they must take as many bytes
// as kvs — placeholders of the final length, such as the hash of a source
// file computed while the data streamed — or the write fails.
func WriteDeferred(ctx context.Context, path string, kvs []KV, tensors []formats.Tensor, final func() ([]KV, error)) error {
	l, err := plan(kvs, tensors)
	if err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	return writeFile(ctx, path, l, tensors, final)
}

func writeFile(ctx context.Context, path string, l *layout, tensors []formats.Tensor, final func() ([]KV, error)) error {
	af, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer af.Abort()
	bw := bufio.NewWriterSize(af, 1<<20)
	if err := l.stream(ctx, bw, tensors); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	if final != nil {
		kvs, err := final()
		if err != nil {
			return fmt.Errorf("gguf: %s: %w", path, err)
		}
		l2, err := plan(kvs, tensors)
		if err != nil {
			return fmt.Errorf("gguf: %s: %w", path, err)
		}
		if len(l2.header) != len(l.header) {
			return fmt.Errorf("gguf: %s: final metadata takes %d header bytes, the placeholders %d: %w", path, len(l2.header), len(l.header), ErrCorrupt)
		}
		if _, err := af.WriteAt(l2.header, 0); err != nil {
			return fmt.Errorf("gguf: %s: %w", path, err)
		}
	}
	if err := af.Commit(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// Writer adapts Write to formats.Writer: string metadata becomes string KVs
// in key order.
type Writer struct{}

// Write implements formats.Writer.
func (Writer) Write(ctx context.Context, path string, tensors []formats.Tensor, metadata map[string]string) error {
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kvs := make([]KV, len(keys))
	for i, k := range keys {
		kvs[i] = String(k, metadata[k])
	}
	return Write(ctx, path, kvs, tensors)
}

var _ formats.Writer = Writer{}
