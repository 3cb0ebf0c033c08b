package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/mapping"
)

// exportSource is one HF tensor an exported tensor is made of.
type exportSource struct {
	info formats.TensorInfo
	src  *io.SectionReader
	// view is the tensor's mapped bytes when the reader has them: chunks
	// are read from it and their pages dropped once written, so resident
	// memory stays bounded by the working chunk.
	view []byte
}

// exportData produces one GGUF tensor from its sources: each converted to
// F32, transformed (Q/K permutation, Gemma's norm + 1, Conv1D transpose,
// expert stacking, a part of a fused tensor), then encoded in the target
// type, a bounded chunk at a time.
type exportData struct {
	srcs  []exportSource
	name  string
	shape []int64 // the output's shape, row-major
	to    formats.DType
	op    string
	// permuteHeads is the head count of OpPermuteQK.
	permuteHeads int
	// part of parts along axis for OpSplit.
	part, parts, axis int
	// chunkBytes bounds the F32 working buffer (rowChunkBytes when 0).
	chunkBytes int64
	// validate checks quantized rows as llama_model_quantize does
	// (ggml_validate_row_data) and refuses the tensor when a scale
	// overflowed; set for llama-quantize presets. The converter's own Q8_0
	// does not check, so plain --type Q8_0 does not either.
	validate bool
}

// exportSegment is a run of elements of one source, in output order.
type exportSegment struct {
	src    int
	off, n int64
}

func prod(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}

// newExportData checks a planned tensor against its sources and the
// transform before anything is written: every problem is reported with the
// checkpoint and the tensor.
func newExportData(file string, pt mapping.PlanTensor, srcs []exportSource, vars func(string) int, want formats.DType) (*exportData, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("export: %s: tensor %q (%s): %s", file, pt.Name, strings.Join(pt.Sources, ", "), fmt.Sprintf(format, args...))
	}
	if len(srcs) == 0 {
		return nil, bad("no source tensors")
	}
	first := srcs[0].info
	for _, s := range srcs {
		if !s.info.DType.IsFloat() {
			return nil, fmt.Errorf("%w: %w", bad("%s is %v, not a floating-point type", s.info.Name, s.info.DType), ErrExportUnsupported)
		}
		if len(s.info.Shape) == 0 || prod(s.info.Shape) <= 0 {
			return nil, bad("%s has shape %v", s.info.Name, s.info.Shape)
		}
		if !slices.Equal(s.info.Shape, first.Shape) {
			return nil, bad("%s has shape %v, %s has %v: the sources must agree", s.info.Name, s.info.Shape, first.Name, first.Shape)
		}
		if size, err := s.info.DType.ByteSize(s.info.Shape); err != nil || size != s.src.Size() {
			return nil, bad("%s: %d bytes for %v %v", s.info.Name, s.src.Size(), s.info.DType, s.info.Shape)
		}
	}
	e := &exportData{srcs: srcs, name: pt.Name}
	shape := slices.Clone(first.Shape)
	op := ""
	if pt.Transform != nil {
		op = pt.Transform.Op
	}
	if len(srcs) > 1 && op != mapping.OpStackExperts {
		return nil, fmt.Errorf("%w: %w", bad("made of %d sources without stacking", len(srcs)), ErrExportUnsupported)
	}
	switch op {
	case "", mapping.OpNormPlusOne:
	case mapping.OpPermuteQK:
		heads := vars(pt.Transform.Arg)
		if heads <= 0 || shape[0]%int64(2*heads) != 0 {
			return nil, bad("%d rows cannot be permuted for %s=%d", shape[0], pt.Transform.Arg, heads)
		}
		e.permuteHeads = heads
	case mapping.OpStackExperts:
		shape = append([]int64{int64(len(srcs))}, shape...)
	case mapping.OpTranspose:
		switch len(shape) {
		case 1:
			// a bias: nothing to transpose
			op = ""
		case 2:
			shape[0], shape[1] = shape[1], shape[0]
		default:
			return nil, bad("cannot transpose a tensor of shape %v (want 2-D)", shape)
		}
	case mapping.OpSplit:
		e.part, e.parts, e.axis = pt.Part, pt.Parts, 1
		if len(shape) < 2 {
			e.axis = 0
		}
		if e.parts <= 0 || e.part < 0 || e.part >= e.parts || shape[e.axis]%int64(e.parts) != 0 {
			return nil, bad("dimension %d of %v cannot be split into %d parts", e.axis, shape, e.parts)
		}
		shape[e.axis] /= int64(e.parts)
	default:
		return nil, fmt.Errorf("%w: %w", bad("transform %s", op), ErrExportUnsupported)
	}
	if pt.Shape != nil && !slices.Equal(pt.Shape, shape) {
		return nil, fmt.Errorf("%w: %w", bad("planned shape %v differs from the %v the sources %v give", pt.Shape, shape, first.Shape), ErrExportUnsupported)
	}
	e.op, e.shape = op, shape
	e.to = exportType(pt.Name, shape, want)
	if _, err := e.to.ByteSize(shape); err != nil {
		return nil, bad("as %v: %v", e.to, err)
	}
	return e, nil
}

// segments lists the source runs of the output, in order.
func (e *exportData) segments() []exportSegment {
	n := prod(e.srcs[0].info.Shape)
	switch e.op {
	case mapping.OpStackExperts:
		out := make([]exportSegment, len(e.srcs))
		for i := range e.srcs {
			out[i] = exportSegment{src: i, n: n}
		}
		return out
	case mapping.OpSplit:
		s := e.srcs[0].info.Shape
		outer, dim, inner := prod(s[:e.axis]), s[e.axis], prod(s[e.axis+1:])
		k := dim / int64(e.parts)
		out := make([]exportSegment, 0, outer)
		for o := range outer {
			out = append(out, exportSegment{off: (o*dim + int64(e.part)*k) * inner, n: k * inner})
		}
		return out
	}
	return []exportSegment{{n: n}}
}

// WriteTo streams the tensor a chunk at a time. A chunk the converter's
// arithmetic allows to (see directCast) goes from the source dtype straight
// to the target, rows permuted as bytes first; the others pass through F32
// for their transform or quantization. Buffers come from a pool and the
// writes run on a goroutine of their own (chunkWriter), overlapping the
// next chunk's conversion.
func (e *exportData) WriteTo(w io.Writer) (int64, error) {
	ne0 := e.shape[len(e.shape)-1]
	outRow, err := e.to.ByteSize([]int64{1, ne0})
	if err != nil {
		return 0, fmt.Errorf("tensor %q as %v: %w", e.name, e.to, err)
	}
	budget := e.chunkBytes
	if budget <= 0 {
		budget = rowChunkBytes
	}
	cw := newChunkWriter(w)
	if e.op == mapping.OpTranspose {
		err = e.writeTransposed(cw, budget, outRow)
	} else {
		err = e.writeChunks(cw, budget, ne0, outRow)
	}
	n, werr := cw.close()
	if err == nil {
		err = werr
	}
	return n, err
}

// writeChunks streams every op but the transpose: chunks of whole output
// rows (whole heads when permuted) of each source segment.
func (e *exportData) writeChunks(cw *chunkWriter, budget, ne0, outRow int64) error {
	segs := e.segments()
	// The unit a chunk is a multiple of: an output row, a head of a
	// permuted tensor.
	unit := ne0
	if e.op == mapping.OpPermuteQK {
		unit = prod(e.srcs[0].info.Shape) / int64(e.permuteHeads)
	}
	chunk := max(unit, budget/4/unit*unit)
	longest := int64(0)
	for _, sg := range segs {
		longest = max(longest, sg.n)
	}
	chunk = min(chunk, longest)
	workers := runtime.GOMAXPROCS(0)
	var raw, perm, x, tmp *[]byte
	defer func() { putBufs(raw, perm, x, tmp) }()
	for _, sg := range segs {
		s := e.srcs[sg.src]
		esize, err := s.info.DType.ByteSize([]int64{1})
		if err != nil || esize <= 0 {
			return fmt.Errorf("tensor %q (%s): %v elements have no byte size", e.name, s.info.Name, s.info.DType)
		}
		mode := viaF32
		if e.op != mapping.OpNormPlusOne {
			mode = directCast(s.info.DType, e.to)
		}
		for off := int64(0); off < sg.n; off += chunk {
			if cw.failed() {
				return nil // close reports the write error
			}
			k := min(chunk, sg.n-off)
			lo, hi := (sg.off+off)*esize, (sg.off+off+k)*esize
			var b, drop []byte
			if s.view != nil && int64(len(s.view)) == s.src.Size() {
				b = s.view[lo:hi]
				drop = b
			} else {
				raw = growBuf(raw, chunk*esize)
				b = (*raw)[:hi-lo]
				if _, err := s.src.ReadAt(b, lo); err != nil && !(errors.Is(err, io.EOF) && hi == s.src.Size()) {
					return fmt.Errorf("tensor %q (%s): read: %w", e.name, s.info.Name, err)
				}
			}
			rows := k / ne0
			if e.op == mapping.OpPermuteQK {
				// permute the rows as bytes, whatever their type
				perm = growBuf(perm, chunk*esize)
				p := (*perm)[:len(b)]
				cols := prod(s.info.Shape[1:])
				per := s.info.Shape[0] / int64(e.permuteHeads)
				permuteRows(p, b, int(cols*esize), int(k/cols/per))
				b = p
			}
			if mode == direct && s.info.DType == e.to && drop != nil && e.op != mapping.OpPermuteQK {
				// nothing to convert: the mapped bytes themselves, dropped
				// once written (a read or permuted buffer is reused, so it
				// is copied below instead)
				cw.send(b, nil, drop)
				continue
			}
			buf := cw.buf(rows * outRow)
			o := (*buf)[:rows*outRow]
			if e.op != mapping.OpNormPlusOne {
				if err := e.encodeRows(o, b, s.info, mode, rows, ne0, outRow, workers); err != nil {
					return err
				}
			} else {
				// Gemma's norm + 1 (1-D, small): through F32 as a whole
				x = growBuf(x, chunk*4)
				xb := (*x)[:k*4]
				if err := cast.ConvertParallel(xb, formats.F32, b, s.info.DType, cast.Options{}, workers); err != nil {
					return fmt.Errorf("tensor %q (%s): %w", e.name, s.info.Name, err)
				}
				xs := f32View(xb)
				if err := e.apply(xs, &tmp, s.info); err != nil {
					return err
				}
				if err := e.encodeF32(o, xs, ne0); err != nil {
					return err
				}
			}
			cw.send(o, buf, drop)
		}
	}
	return nil
}

// encodeRows converts rows of the source (b, of type src.DType) into o in
// the target type on up to workers goroutines, each a block of rows at a
// time small enough to stay in its core's cache: in one step where mode
// allows (under directFinite a block with a non-finite value is done again
// through F32), else widened into a per-worker F32 scratch block and
// quantized or narrowed from there. The result is the two-step one, in
// one pass over memory.
func (e *exportData) encodeRows(o, b []byte, src formats.TensorInfo, mode directMode, rows, ne0, outRow int64, workers int) error {
	esize := int64(len(b)) / (rows * ne0)
	blockRows := max(1, encodeBlock/ne0)
	per := (rows + int64(workers) - 1) / int64(workers)
	per = (per + blockRows - 1) / blockRows * blockRows
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		r0, r1 := int64(w)*per, min(rows, int64(w+1)*per)
		if r0 >= r1 {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var x *[]byte
			defer func() { putBufs(x) }()
			for r := r0; r < r1; r += blockRows {
				n := min(blockRows, r1-r)
				ob := o[r*outRow : (r+n)*outRow]
				sb := b[r*ne0*esize : (r+n)*ne0*esize]
				if mode != viaF32 {
					if err := cast.Convert(ob, e.to, sb, src.DType, cast.Options{}); err != nil {
						errs[w] = fmt.Errorf("tensor %q (%s): %w", e.name, src.Name, err)
						return
					}
					if mode == direct || !hasNonFinite16(ob, finiteMask(e.to)) {
						continue
					}
				}
				if x == nil {
					x = getBuf(int(blockRows * ne0 * 4))
				}
				xb := (*x)[:n*ne0*4]
				if err := cast.Convert(xb, formats.F32, sb, src.DType, cast.Options{}); err != nil {
					errs[w] = fmt.Errorf("tensor %q (%s): %w", e.name, src.Name, err)
					return
				}
				if err := e.encodeF32(ob, f32View(xb), ne0); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// encodeBlock is the F32 elements a worker of encodeRows handles at a
// time (256 KiB of F32).
const encodeBlock = 64 << 10

// checkRows is llama_model_quantize's check of every quantized chunk.
func (e *exportData) checkRows(o []byte) error {
	if err := ggml.ValidateRows(e.to, o); err != nil {
		return fmt.Errorf("quantized to %v: %w: its values are out of the type's range, as llama-quantize would also find; choose another type for it with --tensor-type", e.to, err)
	}
	return nil
}

// encodeF32 writes F32 rows of ne0 values into o in the target type, on
// the calling goroutine.
func (e *exportData) encodeF32(o []byte, xs []float32, ne0 int64) error {
	var err error
	switch {
	case e.to == formats.F32:
		copy(o, f32Bytes(xs))
	case e.to.IsQuantized():
		if err = ggml.Quantize(o, xs, e.to, int(ne0), nil); err == nil && e.validate {
			err = e.checkRows(o)
		}
	default:
		err = cast.Convert(o, e.to, f32Bytes(xs), formats.F32, cast.Options{})
	}
	if err != nil {
		return fmt.Errorf("tensor %q: %w", e.name, err)
	}
	return nil
}

// writeTransposed streams a transposed matrix (GPT-2's Conv1D weights) in
// blocks of output rows: the source's (r, c) becomes (c, r), and a block of
// output rows j0..j1 is gathered from the columns j0..j1 of every source
// row, so memory stays bounded by the budget, not the tensor.
func (e *exportData) writeTransposed(cw *chunkWriter, budget, outRow int64) error {
	s := e.srcs[0]
	r, c := s.info.Shape[0], s.info.Shape[1]
	esize, err := s.info.DType.ByteSize([]int64{1})
	if err != nil || esize <= 0 {
		return fmt.Errorf("tensor %q (%s): %v elements have no byte size", e.name, s.info.Name, s.info.DType)
	}
	block := min(c, max(1, budget/4/r)) // output rows per block
	workers := runtime.GOMAXPROCS(0)
	x := getBuf(int(block * r * 4))
	piece := getBuf(int(block * max(esize, 4)))
	var raw *[]byte
	defer func() { putBufs(x, piece, raw) }()
	mapped := s.view != nil && int64(len(s.view)) == s.src.Size()
	for j0 := int64(0); j0 < c; j0 += block {
		if cw.failed() {
			return nil
		}
		nj := min(block, c-j0)
		xs := f32View((*x)[:nj*r*4])
		pf := f32View((*piece)[:nj*4])
		for i := range r {
			lo, hi := (i*c+j0)*esize, (i*c+j0+nj)*esize
			var b []byte
			if mapped {
				b = s.view[lo:hi]
			} else {
				raw = growBuf(raw, nj*esize)
				b = (*raw)[:hi-lo]
				if _, err := s.src.ReadAt(b, lo); err != nil && !(errors.Is(err, io.EOF) && hi == s.src.Size()) {
					return fmt.Errorf("tensor %q (%s): read: %w", e.name, s.info.Name, err)
				}
			}
			if err := cast.Convert(f32Bytes(pf), formats.F32, b, s.info.DType, cast.Options{}); err != nil {
				return fmt.Errorf("tensor %q (%s): %w", e.name, s.info.Name, err)
			}
			for j, v := range pf {
				xs[int64(j)*r+i] = v
			}
		}
		buf := cw.buf(nj * outRow)
		o := (*buf)[:nj*outRow]
		var err error
		switch {
		case e.to == formats.F32:
			copy(o, f32Bytes(xs))
		case e.to.IsQuantized():
			if err = ggml.QuantizeParallel(o, xs, e.to, int(r), nil, workers); err == nil && e.validate {
				err = e.checkRows(o)
			}
		default:
			err = cast.ConvertParallel(o, e.to, f32Bytes(xs), formats.F32, cast.Options{}, workers)
		}
		if err != nil {
			return fmt.Errorf("tensor %q: %w", e.name, err)
		}
		cw.send(o, buf, nil)
	}
	if mapped {
		dropPages(s.view)
	}
	return nil
}

// apply runs the element transform on a chunk of F32 values in place
// (tmp is scratch space, taken from the pool when first needed).
func (e *exportData) apply(xs []float32, tmp **[]byte, src formats.TensorInfo) error {
	if e.op != mapping.OpNormPlusOne {
		return nil
	}
	for i := range xs {
		xs[i]++
	}
	// The converter adds in the source's type when that is F16 (it only
	// widens other types to F32).
	if src.DType == formats.F16 {
		*tmp = growBuf(*tmp, int64(2*len(xs)))
		h := (**tmp)[:2*len(xs)]
		if err := cast.Convert(h, formats.F16, f32Bytes(xs), formats.F32, cast.Options{}); err != nil {
			return fmt.Errorf("tensor %q: %w", e.name, err)
		}
		if err := cast.Convert(f32Bytes(xs), formats.F32, h, formats.F16, cast.Options{}); err != nil {
			return fmt.Errorf("tensor %q: %w", e.name, err)
		}
	}
	return nil
}

// directCasts caches directCast's answers.
var directCasts sync.Map // [2]formats.DType → directMode

// directMode is how a chunk may be converted straight to its target.
type directMode uint8

const (
	viaF32 directMode = iota // through F32 only
	direct                   // in one step
	// directFinite: in one step, but a chunk whose output holds a
	// non-finite value is converted again through F32 (the one-step path
	// quiets signalling NaNs, the two steps keep their payload)
	directFinite
)

// directCast says whether converting from → to in one step gives the
// bytes convert_hf_to_gguf.py's two steps give (the source widened to F32,
// then narrowed; a type kept as it is when it is the target). Widening to
// F32 is exact, so one correctly rounded step from F32 or to F32 always
// does; for a 16-bit source (BF16 → F16, F16 → BF16, a copy) every one of
// its 65536 values is checked once against the two-step path: where they
// differ only on values whose one-step result is non-finite, the answer is
// directFinite. Quantized targets take F32.
func directCast(from, to formats.DType) directMode {
	if to.IsQuantized() || !cast.Supported(from, to) {
		return viaF32
	}
	if from == formats.F32 || to == formats.F32 {
		return direct
	}
	key := [2]formats.DType{from, to}
	if v, ok := directCasts.Load(key); ok {
		return v.(directMode)
	}
	mode := viaF32
	fsz, err1 := from.ByteSize([]int64{1})
	tsz, err2 := to.ByteSize([]int64{1})
	if mask := finiteMask(to); err1 == nil && err2 == nil && fsz == 2 && tsz == 2 && mask != 0 {
		src := make([]byte, 2<<16)
		for i := range 1 << 16 {
			src[2*i], src[2*i+1] = byte(i), byte(i>>8)
		}
		one, two, wide := make([]byte, 2<<16), make([]byte, 2<<16), make([]byte, 4<<16)
		ok := cast.Convert(one, to, src, from, cast.Options{}) == nil &&
			cast.Convert(wide, formats.F32, src, from, cast.Options{}) == nil
		if ok && from == to {
			copy(two, src)
		} else if ok {
			ok = cast.Convert(two, to, wide, formats.F32, cast.Options{}) == nil
		}
		if ok {
			mode = direct
			for i := 0; i < len(one); i += 2 {
				if one[i] == two[i] && one[i+1] == two[i+1] {
					continue
				}
				if !hasNonFinite16(one[i:i+2], mask) {
					mode = viaF32
					break
				}
				mode = directFinite
			}
		}
	}
	directCasts.Store(key, mode)
	return mode
}

// finiteMask is the exponent field of a 16-bit float type (0 for others).
func finiteMask(d formats.DType) uint16 {
	switch d {
	case formats.F16:
		return 0x7c00
	case formats.BF16:
		return 0x7f80
	}
	return 0
}

// hasNonFinite16 reports whether the 16-bit floats of b (exponent field
// mask) hold an Inf or a NaN: all exponent bits set. Sixteen at a time,
// SWAR: a lane of y is zero where every exponent bit is set, and
// (y - 1) &^ y has its top bit set in such a lane (and only where some lane
// is zero).
func hasNonFinite16(b []byte, mask uint16) bool {
	const lo, hi = 0x0001000100010001, 0x8000800080008000
	m := uint64(mask) * lo
	for len(b) >= 32 {
		w := b[:32]
		y0 := binary.LittleEndian.Uint64(w[0:])&m ^ m
		y1 := binary.LittleEndian.Uint64(w[8:])&m ^ m
		y2 := binary.LittleEndian.Uint64(w[16:])&m ^ m
		y3 := binary.LittleEndian.Uint64(w[24:])&m ^ m
		if ((y0-lo)&^y0|(y1-lo)&^y1|(y2-lo)&^y2|(y3-lo)&^y3)&hi != 0 {
			return true
		}
		b = b[32:]
	}
	for len(b) >= 2 {
		if binary.LittleEndian.Uint16(b)&mask == mask {
			return true
		}
		b = b[2:]
	}
	return false
}

// permuteRows is permuteQK on rows of rowBytes bytes of any type: dst gets
// the rows of src in llama.cpp's interleaved order for nHead heads.
func permuteRows(dst, src []byte, rowBytes, nHead int) {
	rows := len(src) / rowBytes
	half := rows / nHead / 2
	for h := range nHead {
		base := h * 2 * half
		for j := range half {
			for i := range 2 {
				d, s := base+j*2+i, base+i*half+j
				copy(dst[d*rowBytes:(d+1)*rowBytes], src[s*rowBytes:(s+1)*rowBytes])
			}
		}
	}
}

// bufPool holds the chunk buffers of the exports (at most rowChunkBytes
// or so each): reused across chunks, tensors and the writer goroutine
// instead of allocated per tensor. Unlike a sync.Pool it survives garbage
// collections; it keeps at most maxPooled buffers.
var bufPool struct {
	mu   sync.Mutex
	list []*[]byte
}

const maxPooled = 8

// getBuf returns a buffer of n bytes: the smallest pooled one that holds
// them, else a new one of the next power of two (float32-aligned: make of
// []byte is at least 8-byte aligned).
func getBuf(n int) *[]byte {
	bufPool.mu.Lock()
	best := -1
	for i, p := range bufPool.list {
		if cap(*p) >= n && (best < 0 || cap(*p) < cap(*bufPool.list[best])) {
			best = i
		}
	}
	if best >= 0 {
		p := bufPool.list[best]
		bufPool.list = slices.Delete(bufPool.list, best, best+1)
		bufPool.mu.Unlock()
		*p = (*p)[:n]
		return p
	}
	bufPool.mu.Unlock()
	c := 1 << 16
	for c < n {
		c <<= 1
	}
	b := make([]byte, n, c)
	return &b
}

// putBuf returns p to the pool, which drops its smallest buffer when full.
func putBuf(p *[]byte) {
	bufPool.mu.Lock()
	defer bufPool.mu.Unlock()
	bufPool.list = append(bufPool.list, p)
	if len(bufPool.list) > maxPooled {
		small := 0
		for i, q := range bufPool.list {
			if cap(*q) < cap(*bufPool.list[small]) {
				small = i
			}
		}
		bufPool.list = slices.Delete(bufPool.list, small, small+1)
	}
}

// growBuf returns p when it holds n bytes, else a pooled buffer that does
// (p goes back to the pool).
func growBuf(p *[]byte, n int64) *[]byte {
	if p != nil && int64(cap(*p)) >= n {
		*p = (*p)[:n]
		return p
	}
	if p != nil {
		putBuf(p)
	}
	return getBuf(int(n))
}

func putBufs(ps ...*[]byte) {
	for _, p := range ps {
		if p != nil {
			putBuf(p)
		}
	}
}

// f32View is f32Bytes' inverse: b (float32-aligned, from the pool or a
// mapping) as float32s.
func f32View(b []byte) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// chunkWriter writes a tensor's chunks on a goroutine of its own, in
// order, so that the kernel's copy of one chunk overlaps the conversion of
// the next. Two output buffers circulate between the producer and it.
type chunkWriter struct {
	w     io.Writer
	full  chan pending
	free  chan *[]byte
	done  chan struct{}
	owned []*[]byte
	n     int64
	err   error
	bad   atomic.Bool
}

type pending struct {
	b    []byte
	buf  *[]byte // returned to free once written (nil: not ours)
	drop []byte  // source pages to drop once written
}

const chunkBuffers = 2

func newChunkWriter(w io.Writer) *chunkWriter {
	cw := &chunkWriter{w: w, full: make(chan pending, chunkBuffers), free: make(chan *[]byte, chunkBuffers), done: make(chan struct{})}
	go func() {
		defer close(cw.done)
		for p := range cw.full {
			if cw.err == nil {
				m, err := cw.w.Write(p.b)
				cw.n += int64(m)
				if err != nil {
					cw.err = err
					cw.bad.Store(true)
				}
			}
			if p.drop != nil {
				dropPages(p.drop)
			}
			if p.buf != nil {
				cw.free <- p.buf
			}
		}
	}()
	return cw
}

// buf returns an output buffer of n bytes: a new one while fewer than
// chunkBuffers are out, else the next one written.
func (cw *chunkWriter) buf(n int64) *[]byte {
	var p *[]byte
	if len(cw.owned) < chunkBuffers {
		p = getBuf(int(n))
		cw.owned = append(cw.owned, p)
	} else {
		p = <-cw.free
		if int64(cap(*p)) < n {
			// rare: a later segment's chunk is larger
			for i, q := range cw.owned {
				if q == p {
					p = getBuf(int(n))
					cw.owned[i] = p
					putBuf(q)
					break
				}
			}
		}
	}
	*p = (*p)[:n]
	return p
}

func (cw *chunkWriter) send(b []byte, buf *[]byte, drop []byte) {
	cw.full <- pending{b: b, buf: buf, drop: drop}
}

func (cw *chunkWriter) failed() bool { return cw.bad.Load() }

// close waits for the writes and returns the bytes written and the first
// error.
func (cw *chunkWriter) close() (int64, error) {
	close(cw.full)
	<-cw.done
	for _, p := range cw.owned {
		putBuf(p)
	}
	return cw.n, cw.err
}

// f32Names are the tensors convert_hf_to_gguf.py always writes in F32
// (the MODEL_TENSOR list of its prepare_tensors), besides 1-D tensors,
// norms and non-weights.
var f32Names = regexp.MustCompile(`^(?:blk\.\d+\.(?:ffn_gate_inp|ffn_gate_inp_shexp|ssm_conv1d|ssm_conv1d_[qkv]|shortconv\.conv|` +
	`time_mix_first|time_mix_w[12]|time_mix_decay_w[12]|time_mix_lerp_fused|altup_correct_coef|altup_predict_coef|indexer\.proj)|` +
	`posnet\.\d+\.norm[12]|position_embd|token_types|v\.position_embd|a\.position_embd)\.weight$`)

// exportType is convert_hf_to_gguf.py's type policy: 1-D tensors, norms,
// non-weights and f32Names stay F32; other weights take the requested type,
// falling back to F16 when a row does not divide into quantization blocks
// (the script's QuantError fallback).
func exportType(name string, shape []int64, want formats.DType) formats.DType {
	if len(shape) <= 1 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") || f32Names.MatchString(name) {
		return formats.F32
	}
	if want.BlockSize() > 1 && shape[len(shape)-1]%int64(want.BlockSize()) != 0 {
		return formats.F16
	}
	return want
}
