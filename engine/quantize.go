package engine

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"
	"unsafe"

	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/ggml"
	"mlmf/formats/gguf"
	"mlmf/formats/imatrix"
)

// QuantizeRequest is `mlmf quantize IN OUT --type T …`, with
// llama-quantize's options.
type QuantizeRequest struct {
	Input, Output string
	Options       quant.Options
	// Imatrix is --imatrix FILE; Include/Exclude are --include-weights and
	// --exclude-weights.
	Imatrix          string
	Include, Exclude []string
	// Overrides are --override-kv KEY=TYPE:VALUE, parsed.
	Overrides []gguf.KV
	// KeepSplit writes one output split per input split (--keep-split).
	KeepSplit bool
}

// QuantizeResult reports what was done, tensor by tensor.
type QuantizeResult struct {
	Decisions []quant.Decision
	Files     []string
	InBytes   int64
	OutBytes  int64
	Elapsed   time.Duration
}

// rowChunkBytes bounds the F32 working buffer of one quantization step.
const rowChunkBytes = 32 << 20

// Quantize requantizes a GGUF model as llama-quantize does: the same type
// for every tensor (engine/quant's port of llama.cpp's rules), the same
// metadata, the same bytes. It streams tensor by tensor, a bounded number of
// rows at a time, on all cores; cancelling leaves Output as it was.
func Quantize(ctx context.Context, req QuantizeRequest, progress func(Progress)) (*QuantizeResult, error) {
	start := time.Now()
	f, err := gguf.Open(req.Input)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	model, err := quant.ModelFromGGUF(f)
	if err != nil {
		return nil, err
	}
	var im *imatrix.Matrix
	var imInfo *quant.ImatrixInfo
	if req.Imatrix != "" {
		if im, err = imatrix.Load(req.Imatrix); err != nil {
			return nil, err
		}
		if err := im.Filter(req.Include, req.Exclude); err != nil {
			return nil, err
		}
		imInfo = &quant.ImatrixInfo{File: req.Imatrix, Datasets: im.Datasets, Entries: len(im.Values), ChunkCount: im.ChunkCount}
		req.Options.HasImatrix = true
	}
	req.Options.KeepSplit = req.KeepSplit
	decisions, err := quant.PlanModel(model, req.Options)
	if err != nil {
		return nil, err
	}
	kvs := quant.OutputMetadata(f.KVs(), req.Options.FileType, req.Overrides, imInfo)

	infos := map[string]formats.TensorInfo{}
	for _, t := range f.Tensors() {
		infos[t.Name] = t
	}
	res := &QuantizeResult{Decisions: decisions}
	var total int64
	sizes := make([]int64, len(decisions))
	for i, d := range decisions {
		t := infos[d.Name]
		res.InBytes += t.Size
		if sizes[i], err = d.To.ByteSize(t.Shape); err != nil {
			return nil, fmt.Errorf("quantize: %s: tensor %q as %v: %w", req.Input, d.Name, d.To, err)
		}
		total += sizes[i]
	}
	res.OutBytes = total

	tensors := make([]formats.Tensor, len(decisions))
	for i, d := range decisions {
		t := infos[d.Name]
		src, err := f.TensorReader(d.Name)
		if err != nil {
			return nil, err
		}
		var data io.WriterTo = formats.SectionData{R: src}
		if d.Quantize && d.To != d.From {
			var weights []float32
			if im != nil {
				ne0 := t.Shape[len(t.Shape)-1]
				nExpert := int64(1)
				if len(t.Shape) == 3 {
					nExpert = t.Shape[0]
				}
				if weights, err = im.For(d.Name, ne0, nExpert); err != nil {
					return nil, err
				}
			}
			qd := &quantData{src: src, info: t, to: d.To, imatrix: weights}
			if t.DType == formats.F32 {
				// F32 rows are quantized straight from the mapping: no copy.
				if v, err := f.View(d.Name); err == nil {
					qd.view = v
				}
			}
			data = qd
		}
		tensors[i] = formats.Tensor{Name: d.Name, DType: d.To, Shape: t.Shape, Data: data}
	}
	trackProgress(ctx, tensors, sizes, start, progress)
	if req.KeepSplit && f.Splits() > 1 {
		// One output split per input split, each with the input split's
		// tensors, as llama_model_quantize with keep_split writes them.
		splitOf := map[string]int{}
		for _, t := range f.TensorInfos() {
			splitOf[t.Name] = t.Split
		}
		assign := make([]int, len(decisions))
		for i, d := range decisions {
			assign[i] = splitOf[d.Name]
		}
		files, err := gguf.WriteSplit(ctx, trimSplitSuffix(req.Output), kvs, tensors, gguf.SplitOptions{Assign: assign, QuantizeKeyOrder: true})
		if err != nil {
			return nil, err
		}
		res.Files = files
	} else {
		if err := gguf.Write(ctx, req.Output, kvs, tensors); err != nil {
			return nil, err
		}
		res.Files = []string{req.Output}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func trimSplitSuffix(p string) string {
	const ext = ".gguf"
	if len(p) > len(ext) && p[len(p)-len(ext):] == ext {
		return p[:len(p)-len(ext)]
	}
	return p
}

// quantData converts a tensor to F32 and quantizes it, a bounded number of
// rows at a time. For 3-D (stacked expert) tensors each expert's rows use
// that expert's slice of the importance matrix, as llama-quantize does.
type quantData struct {
	src     *io.SectionReader
	info    formats.TensorInfo
	to      formats.DType
	imatrix []float32
	view    []byte // the tensor's mapped bytes, for F32 sources (may be nil)
}

func (q *quantData) WriteTo(w io.Writer) (int64, error) {
	t := q.info
	if len(t.Shape) == 0 {
		return 0, fmt.Errorf("tensor %q: cannot quantize a scalar", t.Name)
	}
	ne0 := t.Shape[len(t.Shape)-1]
	nrows := t.NumElements() / max(ne0, 1)
	rowsPerMatrix := nrows
	if len(t.Shape) >= 3 {
		rowsPerMatrix = t.Shape[len(t.Shape)-2]
	}
	inRow, err := t.DType.ByteSize([]int64{ne0})
	if err != nil {
		return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	outRow, err := q.to.ByteSize([]int64{ne0})
	if err != nil {
		return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	chunk := max(1, min(nrows, rowChunkBytes/(4*ne0)))
	if chunk > rowsPerMatrix {
		chunk = rowsPerMatrix
	}
	useView := q.view != nil && uintptr(unsafe.Pointer(unsafe.SliceData(q.view)))%4 == 0 && int64(len(q.view)) == nrows*inRow
	var in []byte
	var f32 []float32
	if !useView {
		in = make([]byte, chunk*inRow)
		f32 = make([]float32, chunk*ne0)
	}
	out := make([]byte, chunk*outRow)
	workers := runtime.GOMAXPROCS(0)
	var written int64
	for row := int64(0); row < nrows; {
		// Never cross a matrix boundary: the imatrix slice changes there.
		k := min(chunk, nrows-row, rowsPerMatrix-row%rowsPerMatrix)
		var x []float32
		if useView {
			x = unsafe.Slice((*float32)(unsafe.Pointer(&q.view[row*inRow])), k*ne0)
		} else {
			b := in[:k*inRow]
			if _, err := q.src.ReadAt(b, row*inRow); err != nil {
				return written, fmt.Errorf("tensor %q: read: %w", t.Name, err)
			}
			x = f32[:k*ne0]
			if err := toF32(x, b, t.DType); err != nil {
				return written, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
		}
		var weights []float32
		if q.imatrix != nil {
			e := row / rowsPerMatrix
			weights = q.imatrix[e*ne0 : (e+1)*ne0]
		}
		o := out[:k*outRow]
		if err := ggml.QuantizeParallel(o, x, q.to, int(ne0), weights, workers); err != nil {
			return written, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		// llama_model_quantize checks every chunk (ggml_validate_row_data)
		// and refuses the tensor: a scale fitted beyond the f16 range is
		// stored as Inf.
		if err := ggml.ValidateRows(q.to, o); err != nil {
			return written, fmt.Errorf("tensor %q: quantized to %v: %w: its values are out of the type's range, as llama-quantize would also find; choose another type for it with --tensor-type", t.Name, q.to, err)
		}
		n, err := w.Write(o)
		written += int64(n)
		if err != nil {
			return written, err
		}
		if useView {
			dropPages(q.view[row*inRow : (row+k)*inRow])
		}
		row += k
	}
	return written, nil
}

// toF32 decodes any ggml-storable type to float32 (F32 is a copy).
func toF32(dst []float32, src []byte, t formats.DType) error {
	return ggml.Dequantize(dst, src, t)
}
