package safetensors

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"mlmf/internal/atomicfile"

	"mlmf/formats"
)

// WriteOption configures Encode, WriteFile and WriteSharded.
type WriteOption func(*writeOptions)

type writeOptions struct {
	progress func(done, total int64)
}

// WithProgress reports progress as bytes of tensor data written so far out
// of the total, after each tensor and at least every progressStep bytes.
func WithProgress(fn func(done, total int64)) WriteOption {
	return func(o *writeOptions) { o.progress = fn }
}

const progressStep = 4 << 20

// plan is a file laid out as the reference lays it out.
type plan struct {
	header  []byte           // JSON header with padding
	order   []formats.Tensor // tensors in data order
	sizes   []int64          // bytes of each tensor of order
	dataLen int64
}

// layout validates the tensors and computes the header and data order of a
// file holding them, exactly as safetensors 0.8.0 serializes: tensors sorted
// by dtype (the reference enum's order, descending: U64, I64, F64, C64, F32,
// …, U8, F6_E3M2, F6_E2M3, F4, BOOL) then by name (bytewise), packed without
// gaps; the header is compact JSON with __metadata__ first (when meta is not
// nil, even if empty) and the tensors in data order, each as
// {"dtype":…,"shape":[…],"data_offsets":[b,e]}, padded with spaces to a
// multiple of 8 bytes. The reference writes metadata keys in hash order;
// here they are sorted, so output is deterministic.
func layout(tensors []formats.Tensor, meta map[string]string) (*plan, error) {
	order := slices.Clone(tensors)
	seen := make(map[string]struct{}, len(order))
	for i := range order {
		t := &order[i]
		switch {
		case t.Name == "__metadata__":
			return nil, fmt.Errorf("tensor %q: name is reserved for the metadata", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("tensor %q: name is not valid UTF-8", t.Name)
		case !Supported(t.DType):
			return nil, fmt.Errorf("tensor %q: dtype %v cannot be stored in safetensors: %w",
				t.Name, t.DType, formats.ErrUnsupported)
		case t.Data == nil:
			return nil, fmt.Errorf("tensor %q: no data", t.Name)
		}
		if _, dup := seen[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q: name given twice", t.Name)
		}
		seen[t.Name] = struct{}{}
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("metadata %q: key or value is not valid UTF-8", k)
		}
	}
	slices.SortFunc(order, func(a, b formats.Tensor) int {
		if c := cmp.Compare(dtypeRank[b.DType], dtypeRank[a.DType]); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})

	p := &plan{order: order, sizes: make([]int64, len(order))}
	var h []byte
	h = append(h, '{')
	if meta != nil {
		h = append(h, `"__metadata__":{`...)
		keys := slices.Sorted(mapKeys(meta))
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendString(h, k)
			h = append(h, ':')
			h = appendString(h, meta[k])
		}
		h = append(h, '}')
	}
	var offset int64
	for i, t := range order {
		size, err := t.DType.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if offset+size < offset {
			return nil, fmt.Errorf("tensor %q: data buffer size overflows", t.Name)
		}
		p.sizes[i] = size
		if i > 0 || meta != nil {
			h = append(h, ',')
		}
		h = appendString(h, t.Name)
		h = append(h, `:{"dtype":"`...)
		h = append(h, t.DType.String()...)
		h = append(h, `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, d, 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, offset, 10)
		h = append(h, ',')
		offset += size
		h = strconv.AppendInt(h, offset, 10)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit readers accept; write fewer tensors per file",
			len(h), MaxHeaderSize)
	}
	p.header = h
	p.dataLen = offset
	return p, nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// appendString appends s as a JSON string escaped as serde_json escapes:
// '"' and '\\' with a backslash, \b \f \n \r \t by name, other control
// characters below 0x20 as \u00xx; everything else (DEL, non-ASCII, '<',
// '/', U+2028) as is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Encode writes a safetensors file holding tensors and meta to w: the
// header first, computed from shapes and dtypes, then each tensor's Data,
// which must write exactly the bytes its dtype and shape imply. The output is
// byte-identical to safetensors.torch.save_file / safetensors.numpy.save_file
// (0.8.0) for the same tensors and metadata, except that metadata keys are
// sorted where the reference writes them in hash order. A nil meta writes no
// __metadata__; an empty one writes "__metadata__":{}.
func Encode(w io.Writer, tensors []formats.Tensor, meta map[string]string, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	p, err := layout(tensors, meta)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	pr := newProgress(o.progress, p.dataLen)
	if err := p.write(context.Background(), w, pr); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// progress reports bytes written across the tensors of one or more files.
type progress struct {
	fn          func(done, total int64)
	done, total int64
	last        int64
}

func newProgress(fn func(done, total int64), total int64) *progress {
	return &progress{fn: fn, total: total}
}

func (p *progress) add(n int64, force bool) {
	p.done += n
	if p.fn != nil && (force || p.done-p.last >= progressStep) {
		p.last = p.done
		p.fn(p.done, p.total)
	}
}

// write streams the header and the tensors to w, checking ctx between
// tensors and between the writes of one tensor.
func (p *plan) write(ctx context.Context, w io.Writer, pr *progress) error {
	var prefix [8]byte
	n := uint64(len(p.header))
	for i := range prefix {
		prefix[i] = byte(n >> (8 * i))
	}
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if _, err := w.Write(p.header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for i, t := range p.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		cw := &countWriter{w: w, ctx: ctx, limit: p.sizes[i], pr: pr}
		n, err := t.Data.WriteTo(cw)
		switch {
		case cw.err != nil:
			return fmt.Errorf("tensor %q: %w", t.Name, cw.err)
		case err != nil:
			return fmt.Errorf("tensor %q: write data: %w", t.Name, err)
		case n != cw.n:
			return fmt.Errorf("tensor %q: data reported %d bytes written, but wrote %d", t.Name, n, cw.n)
		case cw.n != p.sizes[i]:
			return fmt.Errorf("tensor %q: data wrote %d bytes, but %v %v needs %d",
				t.Name, cw.n, t.DType, t.Shape, p.sizes[i])
		}
		pr.add(0, true)
	}
	return nil
}

// errTooLong stops a tensor's Data that writes more than its size.
var errTooLong = errors.New("data writes more bytes than its dtype and shape need")

// countWriter counts the bytes of one tensor and refuses any beyond limit.
type countWriter struct {
	w     io.Writer
	ctx   context.Context
	n     int64
	limit int64
	pr    *progress
	err   error
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(b)) > c.limit-c.n {
		c.err = fmt.Errorf("%w (%d bytes)", errTooLong, c.limit)
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.pr.add(int64(n), false)
	if err != nil {
		c.err = fmt.Errorf("write data: %w", err)
	}
	return n, err
}

// WriteFile writes a safetensors file atomically: to a temporary file in the
// same directory, synced and renamed over path. It checks ctx between
// tensors; when it fails or is cancelled, path is untouched and no
// temporary file remains.
func WriteFile(ctx context.Context, path string, tensors []formats.Tensor, meta map[string]string, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	p, err := layout(tensors, meta)
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	pr := newProgress(o.progress, p.dataLen)
	return writePlan(ctx, path, p, pr, func(f *atomicfile.File) error { return f.Commit() })
}

// writePlan writes p to a temporary file for path and hands it to finish
// (which commits it, or keeps it for a later commit).
func writePlan(ctx context.Context, path string, p *plan, pr *progress, finish func(*atomicfile.File) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Abort()
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := p.write(ctx, bw, pr); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %s: write: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ok = true
	if err := finish(f); err != nil {
		f.Abort()
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
