package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/formats/gguf"
	"mlmf/mapping"
	"mlmf/tokenizer"
)

// ErrExportUnsupported is returned for checkpoints, architectures or
// options the GGUF export does not handle yet.
var ErrExportUnsupported = errors.New("not supported by the GGUF export")

// ExportRequest is `mlmf convert SRC OUT.gguf --to gguf --type T`: a Hugging
// Face model directory (config.json, safetensors, tokenizer files) written
// as one GGUF file the way llama.cpp's convert_hf_to_gguf.py writes it.
type ExportRequest struct {
	Source string
	Output string
	// Type is the type of 2-D weights: F32, F16, BF16 or Q8_0. Invalid is
	// the converter's "auto": BF16 when the first matrix of the source is
	// BF16, F16 otherwise. 1-D tensors and norms are always F32.
	Type formats.DType
	// NoVocab writes no tokenizer.* keys (llama.cpp cannot run such a
	// file, but it can take a vocabulary from elsewhere); without it a
	// directory whose tokenizer cannot be read is refused.
	NoVocab bool
}

// ExportResult describes a finished export.
type ExportResult struct {
	Arch    string
	Tensors int
	Bytes   int64
	Elapsed time.Duration
}

// exportArchs are the architectures the GGUF export knows the
// hyper-parameters of; all of them are LLaMA-shaped.
var exportArchs = map[string]bool{"llama": true, "mistral": true}

// fileTypes is general.file_type for each --type (llama_ftype).
var fileTypes = map[formats.DType]uint32{formats.F32: 0, formats.F16: 1, formats.Q8_0: 7, formats.BF16: 32}

// ExportGGUF converts a Hugging Face checkpoint directory to GGUF: tensors
// renamed by the mapping, LLaMA's Q/K rows permuted for llama.cpp's rotary
// layout, 2-D weights in the requested type and everything else F32,
// hyper-parameters and the vocabulary as metadata. It streams tensor by
// tensor (memory bounded by the largest tensor), checks ctx between tensors
// and writes atomically: on error or cancel Output is left as it was.
func ExportGGUF(ctx context.Context, req ExportRequest, progress func(Progress)) (*ExportResult, error) {
	start := time.Now()
	if _, ok := fileTypes[req.Type]; !ok && req.Type != formats.Invalid {
		return nil, fmt.Errorf("export: --type %v: %w (choose F32, F16, BF16 or Q8_0)", req.Type, ErrExportUnsupported)
	}
	dir := req.Source
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	} else if !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := mapping.LoadConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	r, err := formats.Open(req.Source)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	infos := r.Tensors()
	if req.Type == formats.Invalid {
		req.Type = guessType(infos)
	}
	fileType := fileTypes[req.Type]
	det := mapping.Detect(mapping.DetectInput{Config: cfg, Tensors: infos})
	if det.Arch == "" {
		return nil, fmt.Errorf("export: %s: architecture not detected: %s", req.Source, det.Reason)
	}
	if !exportArchs[det.Arch] {
		return nil, fmt.Errorf("export: %s: architecture %s: %w (only llama and mistral so far)", req.Source, det.Arch, ErrExportUnsupported)
	}
	m, err := mapping.NewMapper(det.Arch, cfg, nil)
	if err != nil {
		return nil, err
	}
	rep := m.Report(infos)
	if err := checkReport(req.Source, rep); err != nil {
		return nil, err
	}
	plan := rep.Plan()
	ec := cfg.Effective()

	byName := make(map[string]formats.TensorInfo, len(infos))
	for _, t := range infos {
		byName[t.Name] = t
	}
	tensors := make([]formats.Tensor, 0, len(plan))
	sizes := make([]int64, 0, len(plan))
	var total, nParams int64
	for _, pt := range plan {
		if len(pt.Sources) != 1 {
			return nil, fmt.Errorf("export: %s: tensor %q is made of %d sources: %w", req.Source, pt.Name, len(pt.Sources), ErrExportUnsupported)
		}
		src := byName[pt.Sources[0]]
		if pt.Shape != nil && !slices.Equal(pt.Shape, src.Shape) {
			return nil, fmt.Errorf("export: %s: tensor %q (%s): planned shape %v differs from the source's %v: %w", req.Source, pt.Name, src.Name, pt.Shape, src.Shape, ErrExportUnsupported)
		}
		if !src.DType.IsFloat() {
			return nil, fmt.Errorf("export: %s: tensor %q (%s) is %v, not a floating-point type: %w", req.Source, pt.Name, src.Name, src.DType, ErrExportUnsupported)
		}
		var heads int
		if tr := pt.Transform; tr != nil {
			switch tr.Op {
			case mapping.OpPermuteQK:
				switch tr.Arg {
				case "n_head":
					heads = ec.NumHeads
				case "n_head_kv":
					heads = ec.KVHeads()
				}
				if heads <= 0 || len(src.Shape) == 0 || src.Shape[0]%int64(2*heads) != 0 {
					return nil, fmt.Errorf("export: %s: tensor %q (%s): %d rows cannot be permuted for %s=%d", req.Source, pt.Name, src.Name, firstDim(src.Shape), tr.Arg, heads)
				}
			default:
				return nil, fmt.Errorf("export: %s: tensor %q: transform %s: %w", req.Source, pt.Name, tr.Op, ErrExportUnsupported)
			}
		}
		to := exportType(pt.Name, src.Shape, req.Type)
		size, err := to.ByteSize(src.Shape)
		if err != nil {
			return nil, fmt.Errorf("export: %s: tensor %q as %v: %w", req.Source, pt.Name, to, err)
		}
		sr, err := r.TensorReader(src.Name)
		if err != nil {
			return nil, err
		}
		var view []byte
		if v, ok := r.(viewer); ok {
			if b, err := v.View(src.Name); err == nil && int64(len(b)) == sr.Size() {
				view = b
			}
		}
		nParams += src.NumElements()
		total += size
		sizes = append(sizes, size)
		tensors = append(tensors, formats.Tensor{Name: pt.Name, DType: to, Shape: append([]int64(nil), src.Shape...),
			Data: &exportData{src: sr, view: view, info: src, name: pt.Name, to: to, permuteHeads: heads}})
	}

	kvs, err := exportKVs(dir, ec, fileType, nParams, !req.NoVocab)
	if err != nil {
		return nil, err
	}

	trackProgress(ctx, tensors, sizes, start, progress)
	if err := gguf.Write(ctx, req.Output, kvs, tensors); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("export: %s: %w", req.Source, err)
	}
	return &ExportResult{Arch: det.Arch, Tensors: len(tensors), Bytes: total, Elapsed: time.Since(start)}, nil
}

// guessType is convert_hf_to_gguf.py's --outtype auto: the dtype of the
// first tensor of at least two dimensions when it is BF16 or F16, else F16.
func guessType(infos []formats.TensorInfo) formats.DType {
	for _, t := range infos {
		if len(t.Shape) < 2 {
			continue
		}
		switch t.DType {
		case formats.BF16:
			return formats.BF16
		case formats.F16:
			return formats.F16
		}
	}
	return formats.F16
}

func firstDim(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

// checkReport refuses a checkpoint the mapping does not fully explain,
// before any output is written.
func checkReport(src string, rep *mapping.Report) error {
	var problems []string
	for _, u := range rep.Unmapped {
		problems = append(problems, fmt.Sprintf("unmapped tensor %q", u.Name))
	}
	for _, s := range rep.ShapeMismatches {
		problems = append(problems, fmt.Sprintf("shape mismatch: %+v", s))
	}
	for _, c := range rep.Collisions {
		problems = append(problems, fmt.Sprintf("collision: %+v", c))
	}
	for _, mi := range rep.Missing {
		problems = append(problems, fmt.Sprintf("missing tensor: %+v", mi))
	}
	if len(problems) == 0 {
		return nil
	}
	const maxList = 20
	extra := ""
	if len(problems) > maxList {
		extra = fmt.Sprintf("\n  … and %d more", len(problems)-maxList)
		problems = problems[:maxList]
	}
	return fmt.Errorf("export: %s: the mapping does not cover the checkpoint (see `mlmf map %s`):\n  %s%s",
		src, src, strings.Join(problems, "\n  "), extra)
}

// exportType is convert_hf_to_gguf.py's type policy for LLaMA-family
// tensors: 1-D tensors, norms and non-weights stay F32; other weights take
// the requested type, falling back to F16 when a row does not divide into
// quantization blocks (the script's QuantError fallback).
func exportType(name string, shape []int64, want formats.DType) formats.DType {
	if len(shape) <= 1 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") {
		return formats.F32
	}
	if want.BlockSize() > 1 && shape[len(shape)-1]%int64(want.BlockSize()) != 0 {
		return formats.F16
	}
	return want
}

// viewer is a reader that maps tensors (safetensors files and shards).
type viewer interface {
	View(name string) ([]byte, error)
}

// exportData produces one tensor: the source converted to F32, permuted,
// then encoded in the target type.
type exportData struct {
	src *io.SectionReader
	// view is the tensor's mapped bytes when the reader has them: chunks
	// are read from it and their pages dropped once written, so resident
	// memory stays bounded by the working chunk.
	view         []byte
	info         formats.TensorInfo
	name         string
	to           formats.DType
	permuteHeads int
	// chunkBytes bounds the F32 working buffer (rowChunkBytes when 0).
	chunkBytes int64
}

func (e *exportData) WriteTo(w io.Writer) (int64, error) {
	t := e.info
	want, err := t.DType.ByteSize(t.Shape)
	if err != nil || want != e.src.Size() || len(t.Shape) == 0 {
		return 0, fmt.Errorf("tensor %q (%s): %d bytes for %v %v", e.name, t.Name, e.src.Size(), t.DType, t.Shape)
	}
	// Rows along the first dimension, processed a bounded chunk at a time;
	// a permuted tensor is chunked by whole heads (the permutation never
	// crosses a head).
	rows := t.Shape[0]
	cols := int64(1)
	for _, d := range t.Shape[1:] {
		cols *= d
	}
	unit := int64(1)
	if e.permuteHeads > 0 {
		unit = rows / int64(e.permuteHeads)
	}
	budget := e.chunkBytes
	if budget <= 0 {
		budget = rowChunkBytes
	}
	chunk := max(unit, budget/(4*max(cols, 1))/unit*unit)
	chunk = min(chunk, rows)
	inRow := want / max(rows, 1)
	outRowShape := append([]int64{1}, t.Shape[1:]...)
	outRow, err := e.to.ByteSize(outRowShape)
	if err != nil {
		return 0, fmt.Errorf("tensor %q as %v: %w", e.name, e.to, err)
	}
	workers := runtime.GOMAXPROCS(0)
	var raw []byte
	if e.view == nil {
		raw = make([]byte, chunk*inRow)
	}
	x := make([]float32, chunk*cols)
	var out []byte
	if e.to != formats.F32 {
		out = make([]byte, chunk*outRow)
	}
	var written int64
	for row := int64(0); row < rows; row += chunk {
		k := min(chunk, rows-row)
		var b []byte
		if e.view != nil {
			b = e.view[row*inRow : (row+k)*inRow]
		} else {
			b = raw[:k*inRow]
			if _, err := e.src.ReadAt(b, row*inRow); err != nil && !(errors.Is(err, io.EOF) && row+k == rows) {
				return written, fmt.Errorf("tensor %q (%s): read: %w", e.name, t.Name, err)
			}
		}
		xs := x[:k*cols]
		if err := cast.ConvertParallel(f32Bytes(xs), formats.F32, b, t.DType, cast.Options{}, workers); err != nil {
			return written, fmt.Errorf("tensor %q (%s): %w", e.name, t.Name, err)
		}
		if e.permuteHeads > 0 {
			xs = permuteQK(xs, []int64{k, cols}, int(k/unit))
		}
		var o []byte
		switch {
		case e.to == formats.F32:
			o = f32Bytes(xs)
		case e.to.IsQuantized():
			o = out[:k*outRow]
			ne0 := t.Shape[len(t.Shape)-1]
			if err := ggml.QuantizeParallel(o, xs, e.to, int(ne0), nil, workers); err != nil {
				return written, fmt.Errorf("tensor %q: %w", e.name, err)
			}
		default:
			o = out[:k*outRow]
			if err := cast.ConvertParallel(o, e.to, f32Bytes(xs), formats.F32, cast.Options{}, workers); err != nil {
				return written, fmt.Errorf("tensor %q: %w", e.name, err)
			}
		}
		m, err := w.Write(o)
		written += int64(m)
		if err != nil {
			return written, err
		}
		if e.view != nil {
			dropPages(b)
		}
	}
	return written, nil
}

// f32Bytes views a float32 slice as its little-endian bytes (the machines
// mlmf runs on are little-endian, as GGUF is).
func f32Bytes(x []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)*4)
}

// permuteQK reorders the rows of a Q or K projection (or its bias) from
// HF's rotate-half layout to llama.cpp's interleaved one, as
// convert_hf_to_gguf.py's LlamaModel.permute does:
// w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(w.shape).
func permuteQK(x []float32, shape []int64, nHead int) []float32 {
	rows := int(shape[0])
	cols := 1
	for _, d := range shape[1:] {
		cols *= int(d)
	}
	half := rows / nHead / 2
	out := make([]float32, len(x))
	for h := 0; h < nHead; h++ {
		base := h * 2 * half
		for j := 0; j < half; j++ {
			for i := 0; i < 2; i++ {
				dst := base + j*2 + i
				src := base + i*half + j
				copy(out[dst*cols:(dst+1)*cols], x[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// exportKVs is the metadata convert_hf_to_gguf.py writes for a LLaMA-family
// model, in its order: general.*, the hyper-parameters, then the vocabulary.
func exportKVs(dir string, c *mapping.ModelConfig, fileType uint32, nParams int64, vocab bool) ([]gguf.KV, error) {
	const arch = "llama"
	p := arch + "."
	kvs := []gguf.KV{
		gguf.String("general.architecture", arch),
		gguf.String("general.type", "model"),
		gguf.String("general.name", idToTitle(filepath.Base(filepath.Clean(dir)))),
	}
	if nParams > 0 {
		kvs = append(kvs, gguf.String("general.size_label", sizeLabel(nParams)))
	}
	u32 := func(key string, v int) {
		if v > 0 {
			kvs = append(kvs, gguf.Uint32(p+key, uint32(v)))
		}
	}
	u32("block_count", c.NumLayers)
	u32("context_length", c.MaxPositions)
	u32("embedding_length", c.HiddenSize)
	u32("feed_forward_length", c.IntermediateSize)
	u32("attention.head_count", c.NumHeads)
	u32("attention.head_count_kv", c.NumKVHeads)
	if rs := c.RopeScaling; rs != nil {
		typ, _ := rs["rope_type"].(string)
		if typ == "" {
			typ, _ = rs["type"].(string)
		}
		factor, hasFactor := rs["factor"].(float64)
		switch {
		case typ == "linear" && hasFactor:
			kvs = append(kvs, gguf.String(p+"rope.scaling.type", "linear"), gguf.Float32(p+"rope.scaling.factor", float32(factor)))
		case typ == "" || typ == "default":
		default:
			return nil, fmt.Errorf("export: %s: rope scaling %q: %w", c.Source, typ, ErrExportUnsupported)
		}
	}
	if c.RopeTheta > 0 {
		kvs = append(kvs, gguf.Float32(p+"rope.freq_base", float32(c.RopeTheta)))
	}
	if c.NormEps > 0 {
		kvs = append(kvs, gguf.Float32(p+"attention.layer_norm_rms_epsilon", float32(c.NormEps)))
	}
	u32("attention.key_length", c.HeadDim)
	u32("attention.value_length", c.HeadDim)
	kvs = append(kvs, gguf.Uint32("general.file_type", fileType))
	u32("vocab_size", c.VocabSize)
	u32("rope.dimension_count", c.HeadSize())
	kvs = append(kvs, gguf.Uint32("general.quantization_version", 2))
	if !vocab {
		return kvs, nil
	}
	v, err := tokenizer.FromDir(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %s: vocabulary: %w (--no-vocab writes the file without one)", dir, err)
	}
	for _, kv := range v.KVs() {
		g, err := gguf.NewKV(kv.Key, kv.Value)
		if err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary: %w", dir, err)
		}
		kvs = append(kvs, g)
	}
	return kvs, nil
}

var versionWord = regexp.MustCompile(`^(v\d+(?:\.\d+)*|\d.*)$`)

// idToTitle is gguf-py's Metadata.id_to_title: the directory name with
// dashes as spaces and lower-case words title-cased, except versions and
// numbers.
func idToTitle(s string) string {
	words := strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "-", " "))
	for i, w := range words {
		if w == strings.ToLower(w) && w != strings.ToUpper(w) && !versionWord.MatchString(w) {
			words[i] = pyTitle(w)
		}
	}
	return strings.Join(words, " ")
}

// pyTitle is Python's str.title for ASCII: a letter after a non-letter is
// upper-cased.
func pyTitle(w string) string {
	b := []byte(w)
	prevLetter := false
	for i, c := range b {
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if isLetter && !prevLetter && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		prevLetter = isLetter
	}
	return string(b)
}

// sizeLabel is gguf-py's size_label for a dense model:
// model_weight_count_rounded_notation(total, min_digits=2).
func sizeLabel(n int64) string {
	f := float64(n)
	var scaled float64
	var suffix string
	switch {
	case f > 1e12:
		scaled, suffix = f*1e-12, "T"
	case f > 1e9:
		scaled, suffix = f*1e-9, "B"
	case f > 1e6:
		scaled, suffix = f*1e-6, "M"
	default:
		scaled, suffix = f*1e-3, "K"
	}
	digits := strings.TrimLeft(fmt.Sprint(int64(math.RoundToEven(scaled))), "0")
	fix := max(2-len(digits), 0)
	return fmt.Sprintf("%.*f%s", fix, scaled, suffix)
}
