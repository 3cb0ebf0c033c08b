package engine

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/formats/gguf"
)

// PreviewRequest asks what converting a checkpoint to Target would cost in
// accuracy and size. Target is a dtype (F16, BF16, F8_E4M3 …), a ggml type
// (Q8_0, Q4_K …) or a llama-quantize preset (Q4_K_M …); presets need a GGUF
// source (their rules are written over GGUF names and hyper-parameters).
type PreviewRequest struct {
	Path   string
	Target string
}

// PreviewRow is one tensor's round-trip error and size.
type PreviewRow struct {
	Name        string        `json:"name"`
	From        formats.DType `json:"-"`
	To          formats.DType `json:"-"`
	FromName    string        `json:"from"`
	ToName      string        `json:"to"`
	Elements    int64         `json:"elements"`
	RMSE        float64       `json:"rmse"`
	MaxAbs      float64       `json:"max_abs_error"`
	SNR         float64       `json:"snr_db"` // +Inf when the round trip is exact
	Cosine      float64       `json:"cosine"`
	BytesBefore int64         `json:"bytes_before"`
	BytesAfter  int64         `json:"bytes_after"`
	Note        string        `json:"note,omitempty"`
}

// PreviewResult holds the rows and whole-model totals.
type PreviewResult struct {
	Target string       `json:"target"`
	Rows   []PreviewRow `json:"tensors"`
	Total  PreviewRow   `json:"total"`
}

// Preview round-trips every floating-point tensor through the target type
// (quantize then dequantize, or cast there and back) and measures the error
// against the source values, a bounded number of rows at a time.
func Preview(ctx context.Context, req PreviewRequest, progress func(Progress)) (*PreviewResult, error) {
	start := time.Now()
	r, err := formats.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	infos := r.Tensors()
	targets, err := previewTargets(r, req.Target)
	if err != nil {
		return nil, err
	}
	res := &PreviewResult{Target: req.Target}
	var total int64
	for _, t := range infos {
		total += t.Size
	}
	var done int64
	var sumSq, errSq, dot, srcSq, dstSq float64
	var maxAbs float64
	var elems int64
	for i, t := range infos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		to := targets(t)
		row := PreviewRow{Name: t.Name, From: t.DType, To: to, FromName: t.DType.String(), ToName: to.String(),
			Elements: t.NumElements(), BytesBefore: t.Size, BytesAfter: t.Size}
		if to != t.DType && decodable(t.DType) {
			if after, err := to.ByteSize(t.Shape); err == nil {
				row.BytesAfter = after
				m, err := roundTrip(r, t, to)
				if err != nil {
					return nil, fmt.Errorf("preview: %s: tensor %q: %w", req.Path, t.Name, err)
				}
				m.fill(&row)
				sumSq += m.srcSq
				errSq += m.errSq
				dot += m.dot
				srcSq += m.srcSq
				dstSq += m.dstSq
				maxAbs = math.Max(maxAbs, m.maxAbs)
				elems += m.n
			} else {
				row.To, row.ToName, row.Note = t.DType, t.DType.String(), fmt.Sprintf("kept: %v", err)
			}
		} else {
			row.To, row.ToName = t.DType, t.DType.String()
			if to != t.DType {
				row.Note = "kept: not a floating-point tensor"
			} else {
				row.Note = "unchanged"
			}
		}
		res.Rows = append(res.Rows, row)
		res.Total.BytesBefore += row.BytesBefore
		res.Total.BytesAfter += row.BytesAfter
		res.Total.Elements += row.Elements
		done += t.Size
		if progress != nil {
			progress(Progress{Tensor: t.Name, Index: i + 1, Count: len(infos), Bytes: done, TotalBytes: total, Elapsed: time.Since(start)})
		}
	}
	m := metrics{n: elems, errSq: errSq, srcSq: srcSq, dstSq: dstSq, dot: dot, maxAbs: maxAbs}
	res.Total.Name = "total"
	m.fill(&res.Total)
	return res, nil
}

// decodable reports whether the preview can read values of d.
func decodable(d formats.DType) bool {
	return d.IsQuantized() && ggml.CanDequantize(d) || d.IsFloat() && cast.Supported(d, formats.F32)
}

// previewTargets resolves the target into a per-tensor type choice.
func previewTargets(r formats.Reader, target string) (func(formats.TensorInfo) formats.DType, error) {
	if d, err := formats.ParseDType(target); err == nil {
		if d.IsQuantized() && !ggml.CanQuantize(d) {
			return nil, fmt.Errorf("preview: mlmf cannot quantize to %v", d)
		}
		if !d.IsQuantized() && !d.IsFloat() {
			return nil, fmt.Errorf("preview: %v is not a floating-point or quantized type", d)
		}
		return func(t formats.TensorInfo) formats.DType {
			// 1-D tensors (norms, biases) stay as they are in every GGUF
			// export; quantized types need whole blocks per row.
			if d.IsQuantized() && len(t.Shape) < 2 {
				return t.DType
			}
			return d
		}, nil
	}
	ft, err := quant.ParseFileType(target)
	if err != nil {
		return nil, fmt.Errorf("preview: %q is neither a dtype nor a quantization preset: %w", target, err)
	}
	g, ok := r.(*gguf.File)
	if !ok {
		return nil, fmt.Errorf("preview: preset %s needs a GGUF source (its rules are over GGUF names); use a type such as Q4_K or convert first", target)
	}
	model, err := quant.ModelFromGGUF(g)
	if err != nil {
		return nil, err
	}
	decisions, err := quant.PlanModel(model, quant.Options{FileType: ft, AllowRequantize: true, DryRun: true})
	if err != nil {
		return nil, err
	}
	by := map[string]formats.DType{}
	for _, d := range decisions {
		by[d.Name] = d.To
	}
	return func(t formats.TensorInfo) formats.DType {
		if d, ok := by[t.Name]; ok {
			return d
		}
		return t.DType
	}, nil
}

type metrics struct {
	n                        int64
	errSq, srcSq, dstSq, dot float64
	maxAbs                   float64
}

func (m metrics) fill(row *PreviewRow) {
	if m.n == 0 {
		return
	}
	row.RMSE = math.Sqrt(m.errSq / float64(m.n))
	row.MaxAbs = m.maxAbs
	switch {
	case m.errSq == 0:
		row.SNR = math.Inf(1)
	case m.srcSq == 0:
		row.SNR = math.Inf(-1)
	default:
		row.SNR = 10 * math.Log10(m.srcSq/m.errSq)
	}
	if m.srcSq > 0 && m.dstSq > 0 {
		row.Cosine = m.dot / math.Sqrt(m.srcSq*m.dstSq)
	} else if m.srcSq == 0 && m.dstSq == 0 {
		row.Cosine = 1
	}
}

// roundTrip measures one tensor through type to, chunk by chunk.
func roundTrip(r formats.Reader, t formats.TensorInfo, to formats.DType) (metrics, error) {
	var m metrics
	sr, err := r.TensorReader(t.Name)
	if err != nil {
		return m, err
	}
	ne0 := int64(1)
	if len(t.Shape) > 0 {
		ne0 = max(t.Shape[len(t.Shape)-1], 1)
	}
	n := t.NumElements()
	nrows := n / ne0
	inRow, err := t.DType.ByteSize([]int64{ne0})
	if err != nil {
		return m, err
	}
	outRow, err := to.ByteSize([]int64{ne0})
	if err != nil {
		return m, err
	}
	chunk := max(1, min(nrows, rowChunkBytes/(4*ne0)))
	in := make([]byte, chunk*inRow)
	src := make([]float32, chunk*ne0)
	back := make([]float32, chunk*ne0)
	mid := make([]byte, chunk*outRow)
	workers := runtime.GOMAXPROCS(0)
	for row := int64(0); row < nrows; row += chunk {
		k := min(chunk, nrows-row)
		b := in[:k*inRow]
		if _, err := sr.ReadAt(b, row*inRow); err != nil {
			return m, err
		}
		x, y, q := src[:k*ne0], back[:k*ne0], mid[:k*outRow]
		if err := decode(x, b, t.DType); err != nil {
			return m, err
		}
		if to.IsQuantized() {
			if err := ggml.QuantizeParallel(q, x, to, int(ne0), nil, workers); err != nil {
				return m, err
			}
		} else if err := cast.FromFloat32(q, to, x, cast.Options{}); err != nil {
			return m, err
		}
		if err := decode(y, q, to); err != nil {
			return m, err
		}
		for i := range x {
			a, c := float64(x[i]), float64(y[i])
			if math.IsNaN(a) || math.IsInf(a, 0) {
				continue // non-finite sources have no error to measure
			}
			d := c - a
			m.errSq += d * d
			m.srcSq += a * a
			m.dstSq += c * c
			m.dot += a * c
			m.maxAbs = math.Max(m.maxAbs, math.Abs(d))
			m.n++
		}
	}
	return m, nil
}

func decode(dst []float32, src []byte, d formats.DType) error {
	if d.IsQuantized() {
		return ggml.Dequantize(dst, src, d)
	}
	return cast.ToFloat32(dst, src, d)
}
