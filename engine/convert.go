package engine

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/safetensors"
)

// ConvertRequest asks for a checkpoint to be rewritten as safetensors,
// optionally with its floating-point tensors cast to another dtype.
type ConvertRequest struct {
	Source string
	Output string
	// DType is the target of floating-point tensors; Invalid keeps them.
	// Integer and bool tensors are never cast (as torch's module.to(dtype)).
	DType formats.DType
	// Saturate clamps F8 overflow to the largest finite value.
	Saturate bool
	// ShardSize splits the output into shards of at most this many bytes
	// (a directory with model-0000N-of-0000M.safetensors and an index);
	// 0 writes one file.
	ShardSize int64
}

// Progress reports a running job.
type Progress struct {
	Tensor     string
	Index      int // tensors finished
	Count      int
	Bytes      int64 // output bytes written
	TotalBytes int64
	Elapsed    time.Duration
}

// ConvertResult describes a finished conversion.
type ConvertResult struct {
	Files     []string
	Tensors   int
	Bytes     int64
	Converted int // tensors whose dtype changed
	Elapsed   time.Duration
}

// chunkElems bounds the working buffers of a streaming conversion.
const chunkElems = 1 << 20

// Convert streams the source's tensors into safetensors output, one tensor
// and one chunk at a time: memory stays bounded by a few chunk buffers
// whatever the model size. Cancelling ctx leaves Output as it was.
func Convert(ctx context.Context, req ConvertRequest, progress func(Progress)) (*ConvertResult, error) {
	start := time.Now()
	r, err := formats.Open(req.Source)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if req.DType != formats.Invalid && !req.DType.IsFloat() {
		return nil, fmt.Errorf("convert: target dtype %v is not a floating-point type", req.DType)
	}
	infos := r.Tensors()
	res := &ConvertResult{Tensors: len(infos)}
	var total int64
	tensors := make([]formats.Tensor, 0, len(infos))
	outSizes := make([]int64, len(infos))
	for i, t := range infos {
		to := t.DType
		if req.DType != formats.Invalid && t.DType.IsFloat() && t.DType != req.DType {
			if !cast.Supported(t.DType, req.DType) {
				return nil, fmt.Errorf("convert: %s: tensor %q: %v → %v is not supported", req.Source, t.Name, t.DType, req.DType)
			}
			to = req.DType
			res.Converted++
		}
		size, err := to.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("convert: %s: tensor %q: %w", req.Source, t.Name, err)
		}
		outSizes[i] = size
		total += size
		src, err := r.TensorReader(t.Name)
		if err != nil {
			return nil, err
		}
		var data io.WriterTo = formats.SectionData{R: src}
		if to != t.DType {
			data = &castData{src: src, from: t.DType, to: to, n: t.NumElements(), opt: cast.Options{Saturate: req.Saturate}, name: t.Name}
		}
		tensors = append(tensors, formats.Tensor{Name: t.Name, DType: to, Shape: t.Shape, Data: data})
	}
	res.Bytes = total

	trackProgress(ctx, tensors, outSizes, start, progress)
	meta := map[string]string{}
	for k, v := range r.Metadata() {
		if s, ok := v.(string); ok {
			meta[k] = s
		}
	}
	if _, ok := meta["format"]; !ok {
		meta["format"] = "pt" // transformers refuses safetensors files without it
	}
	if req.ShardSize > 0 {
		files, err := safetensors.WriteSharded(ctx, req.Output, tensors, meta, req.ShardSize)
		if err != nil {
			return nil, err
		}
		res.Files = files
	} else {
		if err := safetensors.WriteFile(ctx, req.Output, tensors, meta); err != nil {
			return nil, err
		}
		res.Files = []string{req.Output}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// castData converts a tensor chunk by chunk as it is written.
type castData struct {
	src      *io.SectionReader
	from, to formats.DType
	n        int64
	opt      cast.Options
	name     string
}

func (c *castData) WriteTo(w io.Writer) (int64, error) {
	inEl, outEl := int64(c.from.Bits()/8), int64(c.to.Bits()/8)
	chunk := min(c.n, chunkElems)
	in := make([]byte, chunk*inEl)
	out := make([]byte, chunk*outEl)
	workers := runtime.GOMAXPROCS(0)
	var written int64
	for off := int64(0); off < c.n; off += chunk {
		k := min(chunk, c.n-off)
		if _, err := c.src.ReadAt(in[:k*inEl], off*inEl); err != nil {
			return written, fmt.Errorf("tensor %q: read: %w", c.name, err)
		}
		if err := cast.ConvertParallel(out[:k*outEl], c.to, in[:k*inEl], c.from, c.opt, workers); err != nil {
			return written, fmt.Errorf("tensor %q: %w", c.name, err)
		}
		m, err := w.Write(out[:k*outEl])
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
