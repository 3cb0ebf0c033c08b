package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// Limits on what a header may declare. They bound work and memory on
// hostile input; real models stay far below them.
const (
	maxDepth   = 8       // nesting of arrays of arrays
	maxDims    = 4       // GGML_MAX_DIMS
	maxKeyLen  = 1 << 16 // bytes in a key or tensor name (llama.cpp: GGML_MAX_NAME=64 for tensors)
	windowSize = 64 << 10
	// MaxHeader bounds the metadata and tensor infos of one file. The
	// largest real headers (262k-token vocabularies with merges) take tens
	// of MB; the cap keeps a hostile header over a 70 GB file from making
	// the reader allocate tens of GB.
	MaxHeader = 256 << 20
	// preallocation cap for lists whose length comes from the file: they
	// grow by append as entries are actually decoded.
	maxPrealloc = 1024
)

// decoder reads the header sequentially from an io.ReaderAt through a small
// window, so that a reader never needs the whole header in memory twice.
// Every length and count is compared with the bytes left in the file before
// anything is allocated.
type decoder struct {
	r     io.ReaderAt
	size  int64
	off   int64 // next byte to decode
	order binary.ByteOrder

	buf    []byte // window over [bufOff, bufOff+len(buf))
	bufOff int64
	mem    []byte // whole file when mapped: no window needed
}

func newDecoder(r io.ReaderAt, size int64, mem []byte) *decoder {
	return &decoder{r: r, size: size, order: binary.LittleEndian, mem: mem}
}

func (d *decoder) remaining() int64 { return d.size - d.off }

// headerLeft is how much more the header may grow under MaxHeader.
func (d *decoder) headerLeft() int64 { return max(0, MaxHeader-d.off) }

func errTooLarge(off int64) error {
	return fmt.Errorf("the header passes %d MiB at offset %d; mlmf reads headers up to %d MiB: %w", MaxHeader>>20, off, MaxHeader>>20, ErrUnsupported)
}

// errEOF is returned when a read would pass the end of the file.
type eofError struct {
	need int64
	off  int64
	size int64
}

func (e *eofError) Error() string {
	return fmt.Sprintf("needs %d bytes at offset %d but the file ends at %d", e.need, e.off, e.size)
}

func (e *eofError) Unwrap() error { return ErrCorrupt }

// bytes returns the next n bytes; the slice is valid until the next call.
func (d *decoder) bytes(n int64) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, &eofError{need: n, off: d.off, size: d.size}
	}
	if d.mem != nil {
		b := d.mem[d.off : d.off+n]
		d.off += n
		return b, nil
	}
	if d.off >= d.bufOff && d.off+n <= d.bufOff+int64(len(d.buf)) {
		b := d.buf[d.off-d.bufOff : d.off-d.bufOff+n]
		d.off += n
		return b, nil
	}
	want := n
	if want < windowSize {
		want = min(windowSize, d.remaining())
	}
	if int64(cap(d.buf)) < want {
		d.buf = make([]byte, want)
	}
	d.buf = d.buf[:want]
	if _, err := d.r.ReadAt(d.buf, d.off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read at offset %d: %w", d.off, err)
	} else if err == io.EOF {
		// ReadAt may report EOF with a full buffer at the very end.
		// A short read is caught by the size accounting above.
	}
	d.bufOff = d.off
	b := d.buf[:n]
	d.off += n
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.bytes(2)
	if err != nil {
		return 0, err
	}
	return d.order.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.bytes(4)
	if err != nil {
		return 0, err
	}
	return d.order.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.bytes(8)
	if err != nil {
		return 0, err
	}
	return d.order.Uint64(b), nil
}

// str reads a u64-length-prefixed string, refusing lengths over limit.
func (d *decoder) str(limit int64) (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", fmt.Errorf("string of %d bytes at offset %d runs past the end of the file (%d bytes left): %w",
			n, d.off-8, d.remaining(), ErrCorrupt)
	}
	if limit > 0 && n > uint64(limit) {
		return "", fmt.Errorf("string of %d bytes at offset %d is longer than the %d allowed: %w", n, d.off-8, limit, ErrCorrupt)
	}
	if n > uint64(d.headerLeft()) {
		return "", errTooLarge(d.off - 8)
	}
	b, err := d.bytes(int64(n))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// count checks an element count against the bytes left, given the fewest
// bytes one element can take.
func (d *decoder) count(n uint64, minSize int64, what string) (int, error) {
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining())/uint64(minSize) {
		return 0, fmt.Errorf("%s count %d at offset %d needs at least %d bytes each but only %d bytes are left: %w",
			what, n, d.off, minSize, d.remaining(), ErrCorrupt)
	}
	if n > uint64(d.headerLeft())/uint64(minSize) {
		return 0, fmt.Errorf("%s count %d: %w", what, n, errTooLarge(d.off))
	}
	return int(n), nil
}

// value decodes one value of type t.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeBool:
		v, err := d.u8()
		if err != nil {
			return false, err
		}
		if v > 1 {
			return false, fmt.Errorf("bool value %d at offset %d is neither 0 nor 1: %w", v, d.off-1, ErrCorrupt)
		}
		return v == 1, nil
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeString:
		return d.str(0)
	case TypeArray:
		return d.array(depth + 1)
	}
	return nil, fmt.Errorf("unknown value type %d at offset %d: %w", uint32(t), d.off-4, ErrCorrupt)
}

func (d *decoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("arrays nested deeper than %d at offset %d: %w", maxDepth, d.off, ErrUnsupported)
	}
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	elem := ValueType(et)
	if elem >= numTypes {
		return nil, fmt.Errorf("array of unknown value type %d at offset %d: %w", et, d.off-4, ErrCorrupt)
	}
	raw, err := d.u64()
	if err != nil {
		return nil, err
	}
	n, err := d.count(raw, elem.minSize(), "array "+elem.String())
	if err != nil {
		return nil, err
	}
	switch elem {
	case TypeUint8:
		b, err := d.bytes(int64(n))
		if err != nil {
			return nil, err
		}
		return append([]uint8(nil), b...), nil
	case TypeInt8:
		b, err := d.bytes(int64(n))
		if err != nil {
			return nil, err
		}
		out := make([]int8, n)
		for i, v := range b {
			out[i] = int8(v)
		}
		return out, nil
	case TypeBool:
		b, err := d.bytes(int64(n))
		if err != nil {
			return nil, err
		}
		out := make([]bool, n)
		for i, v := range b {
			if v > 1 {
				return nil, fmt.Errorf("bool array element %d is %d, neither 0 nor 1: %w", i, v, ErrCorrupt)
			}
			out[i] = v == 1
		}
		return out, nil
	case TypeUint16, TypeInt16:
		b, err := d.bytes(int64(n) * 2)
		if err != nil {
			return nil, err
		}
		if elem == TypeUint16 {
			out := make([]uint16, n)
			for i := range out {
				out[i] = d.order.Uint16(b[2*i:])
			}
			return out, nil
		}
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(d.order.Uint16(b[2*i:]))
		}
		return out, nil
	case TypeUint32, TypeInt32, TypeFloat32:
		b, err := d.bytes(int64(n) * 4)
		if err != nil {
			return nil, err
		}
		switch elem {
		case TypeUint32:
			out := make([]uint32, n)
			for i := range out {
				out[i] = d.order.Uint32(b[4*i:])
			}
			return out, nil
		case TypeInt32:
			out := make([]int32, n)
			for i := range out {
				out[i] = int32(d.order.Uint32(b[4*i:]))
			}
			return out, nil
		default:
			out := make([]float32, n)
			for i := range out {
				out[i] = math.Float32frombits(d.order.Uint32(b[4*i:]))
			}
			return out, nil
		}
	case TypeUint64, TypeInt64, TypeFloat64:
		b, err := d.bytes(int64(n) * 8)
		if err != nil {
			return nil, err
		}
		switch elem {
		case TypeUint64:
			out := make([]uint64, n)
			for i := range out {
				out[i] = d.order.Uint64(b[8*i:])
			}
			return out, nil
		case TypeInt64:
			out := make([]int64, n)
			for i := range out {
				out[i] = int64(d.order.Uint64(b[8*i:]))
			}
			return out, nil
		default:
			out := make([]float64, n)
			for i := range out {
				out[i] = math.Float64frombits(d.order.Uint64(b[8*i:]))
			}
			return out, nil
		}
	case TypeString:
		return d.strings(n)
	default: // TypeArray
		out := make([]any, n)
		for i := range out {
			v, err := d.array(depth + 1)
			if err != nil {
				return nil, fmt.Errorf("array %d of %d: %w", i, n, err)
			}
			out[i] = v
		}
		return out, nil
	}
}

// strings reads n length-prefixed strings into one backing string: a first
// pass checks the lengths and sums them, a second copies the bytes once, so
// a 150k-token vocabulary costs three allocations instead of 150k.
func (d *decoder) strings(n int) ([]string, error) {
	start := d.off
	var total int64
	for i := 0; i < n; i++ {
		l, err := d.u64()
		if err != nil {
			return nil, fmt.Errorf("string %d of %d: %w", i, n, err)
		}
		if l > uint64(d.remaining()) {
			return nil, fmt.Errorf("string %d of %d: string of %d bytes at offset %d runs past the end of the file (%d bytes left): %w",
				i, n, l, d.off-8, d.remaining(), ErrCorrupt)
		}
		if l > uint64(d.headerLeft()) {
			return nil, errTooLarge(d.off - 8)
		}
		d.off += int64(l)
		total += int64(l)
	}
	d.off = start
	var sb strings.Builder
	sb.Grow(int(total))
	ends := make([]int, n)
	for i := 0; i < n; i++ {
		l, err := d.u64()
		if err != nil {
			return nil, err
		}
		b, err := d.bytes(int64(l))
		if err != nil {
			return nil, err
		}
		sb.Write(b)
		ends[i] = sb.Len()
	}
	all := sb.String()
	out := make([]string, n)
	prev := 0
	for i, e := range ends {
		out[i] = all[prev:e]
		prev = e
	}
	return out, nil
}
