package engine

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"

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

func (e *exportData) WriteTo(w io.Writer) (int64, error) {
	ne0 := e.shape[len(e.shape)-1]
	outRow, err := e.to.ByteSize([]int64{1, ne0})
	if err != nil {
		return 0, fmt.Errorf("tensor %q as %v: %w", e.name, e.to, err)
	}
	segs := e.segments()
	// The unit a chunk is a multiple of: an output row, a head of a
	// permuted tensor, a whole transposed matrix.
	unit := ne0
	switch e.op {
	case mapping.OpPermuteQK:
		unit = prod(e.srcs[0].info.Shape) / int64(e.permuteHeads)
	case mapping.OpTranspose:
		unit = prod(e.srcs[0].info.Shape)
	}
	budget := e.chunkBytes
	if budget <= 0 {
		budget = rowChunkBytes
	}
	chunk := max(unit, budget/4/unit*unit)
	longest := int64(0)
	for _, s := range segs {
		longest = max(longest, s.n)
	}
	chunk = min(chunk, longest)
	workers := runtime.GOMAXPROCS(0)
	x := make([]float32, chunk)
	var tmp []float32
	if e.op == mapping.OpTranspose {
		tmp = make([]float32, chunk)
	}
	var raw, out []byte
	if e.to != formats.F32 {
		out = make([]byte, chunk/ne0*outRow)
	}
	var written int64
	for _, sg := range segs {
		s := e.srcs[sg.src]
		esize, err := s.info.DType.ByteSize([]int64{1})
		if err != nil || esize <= 0 {
			return written, fmt.Errorf("tensor %q (%s): %v elements have no byte size", e.name, s.info.Name, s.info.DType)
		}
		for off := int64(0); off < sg.n; off += chunk {
			k := min(chunk, sg.n-off)
			lo, hi := (sg.off+off)*esize, (sg.off+off+k)*esize
			var b []byte
			if s.view != nil && int64(len(s.view)) == s.src.Size() {
				b = s.view[lo:hi]
			} else {
				if int64(cap(raw)) < hi-lo {
					raw = make([]byte, chunk*esize)
				}
				b = raw[:hi-lo]
				if _, err := s.src.ReadAt(b, lo); err != nil && !(errors.Is(err, io.EOF) && hi == s.src.Size()) {
					return written, fmt.Errorf("tensor %q (%s): read: %w", e.name, s.info.Name, err)
				}
			}
			xs := x[:k]
			if err := cast.ConvertParallel(f32Bytes(xs), formats.F32, b, s.info.DType, cast.Options{}, workers); err != nil {
				return written, fmt.Errorf("tensor %q (%s): %w", e.name, s.info.Name, err)
			}
			if err := e.apply(xs, tmp, s.info); err != nil {
				return written, err
			}
			if e.op == mapping.OpTranspose {
				xs = tmp[:k]
			}
			var o []byte
			switch {
			case e.to == formats.F32:
				o = f32Bytes(xs)
			case e.to.IsQuantized():
				o = out[:k/ne0*outRow]
				if err := ggml.QuantizeParallel(o, xs, e.to, int(ne0), nil, workers); err != nil {
					return written, fmt.Errorf("tensor %q: %w", e.name, err)
				}
			default:
				o = out[:k/ne0*outRow]
				if err := cast.ConvertParallel(o, e.to, f32Bytes(xs), formats.F32, cast.Options{}, workers); err != nil {
					return written, fmt.Errorf("tensor %q: %w", e.name, err)
				}
			}
			m, err := w.Write(o)
			written += int64(m)
			if err != nil {
				return written, err
			}
			if s.view != nil {
				dropPages(b)
			}
		}
	}
	return written, nil
}

// apply runs the element transform on a chunk of F32 values in place (the
// transpose writes into tmp).
func (e *exportData) apply(xs, tmp []float32, src formats.TensorInfo) error {
	switch e.op {
	case mapping.OpPermuteQK:
		cols := prod(src.Shape[1:])
		rows := int64(len(xs)) / cols
		per := src.Shape[0] / int64(e.permuteHeads)
		copy(xs, permuteQK(xs, []int64{rows, cols}, int(rows/per)))
	case mapping.OpNormPlusOne:
		for i := range xs {
			xs[i]++
		}
		// The converter adds in the source's type when that is F16 (it
		// only widens other types to F32).
		if src.DType == formats.F16 {
			h := make([]byte, 2*len(xs))
			if err := cast.Convert(h, formats.F16, f32Bytes(xs), formats.F32, cast.Options{}); err != nil {
				return fmt.Errorf("tensor %q: %w", e.name, err)
			}
			if err := cast.Convert(f32Bytes(xs), formats.F32, h, formats.F16, cast.Options{}); err != nil {
				return fmt.Errorf("tensor %q: %w", e.name, err)
			}
		}
	case mapping.OpTranspose:
		r, c := src.Shape[0], src.Shape[1]
		for i := range r {
			for j := range c {
				tmp[j*r+i] = xs[i*c+j]
			}
		}
	}
	return nil
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
