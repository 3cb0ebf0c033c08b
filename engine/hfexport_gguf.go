package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/formats/gguf"
	"mlmf/mapping"
	"mlmf/tokenizer"
)

// planFromGGUF plans a GGUF → Hugging Face export: every GGUF tensor mapped
// back to its HF name(s) with the transform to undo, config.json rebuilt
// from the metadata, the tokenizer from the vocabulary. Anything it cannot
// do is refused here, before any output exists.
func planFromGGUF(g *gguf.File, req HFExportRequest) (*hfPlan, error) {
	src := req.Source
	kv := g.Metadata()
	garch, _ := g.String("general.architecture")
	cfg, err := mapping.ConfigFromGGUF(kv)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", src, err)
	}
	if cfg.ModelType == "" {
		return nil, fmt.Errorf("export: %s: GGUF architecture %q is not known to mlmf's mapping: %w", src, garch, ErrExportUnsupported)
	}
	if !hfArchs[cfg.ModelType] {
		return nil, fmt.Errorf("export: %s: GGUF architecture %q (%s) to Hugging Face: %w (llama and mistral so far)", src, garch, cfg.ModelType, ErrExportUnsupported)
	}
	if t, ok := g.String(garch + ".rope.scaling.type"); ok && t != "none" && t != "linear" {
		return nil, fmt.Errorf("export: %s: rope scaling %q cannot be written back to config.json: %w", src, t, ErrExportUnsupported)
	}
	if f, ok := g.Float(garch + ".rope.scaling.factor"); ok {
		if t, _ := g.String(garch + ".rope.scaling.type"); t == "linear" {
			cfg.RopeScaling = map[string]any{"rope_type": "linear", "factor": shortF32(f)}
		}
	}
	// GGUF stores these as float32: write the shortest decimal that reads
	// back as the same float32 (1e-05, not 9.999999747378752e-06).
	cfg.NormEps, cfg.RopeTheta = shortF32(cfg.NormEps), shortF32(cfg.RopeTheta)
	infos := g.TensorInfos()
	_, hasOutput := g.Tensor("output.weight")
	tied := !hasOutput
	cfg.TieWordEmbeddings = &tied
	m, err := mapping.NewMapper(cfg.ModelType, cfg, nil)
	if err != nil {
		return nil, err
	}

	// The output dtype: --dtype, else the matrices' 16-bit type when they
	// all share it, else F32.
	to := req.DType
	if to == formats.Invalid {
		mats := map[formats.DType]bool{}
		for _, t := range infos {
			if len(t.Shape) >= 2 {
				mats[t.DType] = true
			}
		}
		to = formats.F32
		if len(mats) == 1 && (mats[formats.F16] || mats[formats.BF16]) {
			for d := range mats {
				to = d
			}
		}
	}

	p := &hfPlan{arch: cfg.ModelType, class: firstOr(cfg.Architectures, ""), files: map[string][]byte{}, copies: map[string]string{}}
	srcTypes := map[formats.DType]bool{}
	var problems []string
	var hfInfos []formats.TensorInfo
	for _, t := range infos {
		names, ok := m.ToHF(t.Name)
		if !ok || len(names) == 0 {
			problems = append(problems, fmt.Sprintf("tensor %q has no Hugging Face name in the %s mapping", t.Name, cfg.ModelType))
			continue
		}
		mp, ok := m.ToCanonical(names[0])
		if !ok || (mp.Canonical != t.Name && len(mp.Parts) == 0) {
			problems = append(problems, fmt.Sprintf("tensor %q: %s does not map back to it", t.Name, names[0]))
			continue
		}
		if len(mp.Parts) > 0 {
			problems = append(problems, fmt.Sprintf("tensor %q is a part of the fused %s: re-fusing is not supported", t.Name, names[0]))
			continue
		}
		if !ggml.CanDequantize(t.DType) {
			problems = append(problems, fmt.Sprintf("tensor %q: type %v cannot be dequantized", t.Name, t.DType))
			continue
		}
		if len(t.Shape) == 0 {
			problems = append(problems, fmt.Sprintf("tensor %q has no dimensions", t.Name))
			continue
		}
		op, heads := "", 0
		if tr := mp.Transform; tr != nil {
			switch tr.Op {
			case mapping.OpPermuteQK:
				switch tr.Arg {
				case "n_head":
					heads = cfg.NumHeads
				case "n_head_kv":
					heads = cfg.KVHeads()
				}
				if heads <= 0 || t.Shape[0]%int64(2*heads) != 0 {
					problems = append(problems, fmt.Sprintf("tensor %q: %d rows cannot be un-permuted for %s=%d", t.Name, t.Shape[0], tr.Arg, heads))
					continue
				}
				op = tr.Op
			case mapping.OpNormPlusOne, mapping.OpTranspose:
				op = tr.Op
			case mapping.OpStackExperts:
			default:
				problems = append(problems, fmt.Sprintf("tensor %q: undoing transform %s is not supported", t.Name, tr.Op))
				continue
			}
		}
		stacked := len(names) > 1 || mp.Expert != nil
		if stacked && (len(t.Shape) < 2 || t.Shape[0] != int64(len(names))) {
			problems = append(problems, fmt.Sprintf("tensor %q: shape %v does not stack %d experts", t.Name, t.Shape, len(names)))
			continue
		}
		if stacked && op != "" {
			problems = append(problems, fmt.Sprintf("tensor %q: transform %s on stacked experts is not supported", t.Name, op))
			continue
		}
		sr, err := g.TensorReader(t.Name)
		if err != nil {
			return nil, err
		}
		view, _ := g.View(t.Name)
		if int64(len(view)) != sr.Size() {
			view = nil
		}
		srcTypes[t.DType] = true
		shape := t.Shape
		if stacked {
			shape = t.Shape[1:]
		}
		rows, cols := shape[0], int64(1)
		for _, d := range shape[1:] {
			cols *= d
		}
		if len(shape) == 1 && op != mapping.OpPermuteQK {
			rows, cols = 1, shape[0]
		}
		rowBytes, err := ggml.RowSize(t.DType, int(cols))
		if err != nil {
			problems = append(problems, fmt.Sprintf("tensor %q: %v", t.Name, err))
			continue
		}
		outShape := append([]int64(nil), shape...)
		if op == mapping.OpTranspose {
			if len(outShape) != 2 {
				problems = append(problems, fmt.Sprintf("tensor %q: transpose of a %d-D tensor", t.Name, len(outShape)))
				continue
			}
			outShape[0], outShape[1] = outShape[1], outShape[0]
		}
		td := to
		if !t.DType.IsFloat() && !t.DType.IsQuantized() {
			td = t.DType
		}
		size, err := td.ByteSize(outShape)
		if err != nil {
			return nil, fmt.Errorf("export: %s: tensor %q: %w", src, t.Name, err)
		}
		for x, name := range names {
			off := int64(0)
			if stacked {
				off = int64(x) * rows * int64(rowBytes)
			}
			d := &ggufData{src: sr, off: off, from: t.DType, to: td, rows: rows, cols: cols, rowBytes: int64(rowBytes),
				op: op, heads: heads, name: name, srcName: t.Name}
			if view != nil {
				d.view = view[off : off+rows*int64(rowBytes)]
			}
			p.tensors = append(p.tensors, formats.Tensor{Name: name, DType: td, Shape: outShape, Data: d})
			p.sizes = append(p.sizes, size)
			hfInfos = append(hfInfos, formats.TensorInfo{Name: name, DType: td, Shape: outShape})
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("export: %s: cannot be written as a Hugging Face %s model: %w:\n  %s", src, cfg.ModelType,
			ErrExportUnsupported, strings.Join(firstN(problems, 20), "\n  "))
	}
	// The rebuilt checkpoint must be one the mapping fully explains: no
	// missing tensors, shapes as the rebuilt config implies.
	if err := checkReport(src, m.Report(hfInfos)); err != nil {
		return nil, err
	}

	// Vocabulary → tokenizer files, special ids → config.
	var vocab *tokenizer.Vocab
	if _, ok := g.Get(tokenizer.KeyModel); ok {
		tkv := make([]tokenizer.KV, 0, len(g.KVs()))
		for _, kv := range g.KVs() {
			if strings.HasPrefix(kv.Key, "tokenizer.") {
				tkv = append(tkv, tokenizer.KV{Key: kv.Key, Value: kv.Value})
			}
		}
		if vocab, err = tokenizer.FromKVs(tkv); err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary: %w", src, err)
		}
		hf, err := tokenizer.ExportHF(vocab)
		if err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary to tokenizer.json: %w", src, err)
		}
		p.files["tokenizer.json"] = hf.TokenizerJSON
		p.files["tokenizer_config.json"] = hf.TokenizerConfig
		if hf.TokenizerModel != nil {
			p.files["tokenizer.model"] = hf.TokenizerModel
		}
	}
	p.dtype = torchDTypes[to]
	cfg.TorchDType = p.dtype
	if cfg.RotaryDim == cfg.HeadSize() {
		cfg.RotaryDim = 0
	}
	gen := map[string]any{}
	cfg.Extra = map[string]json.RawMessage{}
	if vocab != nil {
		for key, id := range map[string]int32{"bos_token_id": vocab.BOS, "eos_token_id": vocab.EOS, "pad_token_id": vocab.PAD} {
			if id != tokenizer.NoToken {
				cfg.Extra[key], _ = json.Marshal(id)
				gen[key] = id
			}
		}
	}
	cb, err := cfg.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, err
	}
	if p.files["config.json"], err = marshalSorted(c); err != nil {
		return nil, err
	}
	if p.files["generation_config.json"], err = marshalSorted(gen); err != nil {
		return nil, err
	}

	opts := map[string]string{"to": "hf"}
	if req.DType != formats.Invalid {
		opts["dtype"] = req.DType.String()
	}
	if p.prov, err = ProvenanceFromGGUF(g, opts); err != nil {
		return nil, err
	}
	p.meta = map[string]string{"format": "pt"}
	for k, v := range p.prov.SafetensorsMetadata() {
		p.meta[k] = v
	}
	ft := strings.Join(sortedDTypes(srcTypes), "+")
	p.card = CardInfo{From: "gguf", SourceType: ft, DType: p.dtype, Arch: p.arch, Class: p.class, Tensors: len(p.tensors)}
	for _, s := range p.sizes {
		p.card.Bytes += s
	}
	return p, nil
}

func shortF32(f float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	if err != nil {
		return f
	}
	return v
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}

func firstN(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(xs[:n:n], fmt.Sprintf("… and %d more", len(xs)-n))
}

// ggufData produces one HF tensor from a GGUF tensor (or one expert of a
// stacked one): dequantized to F32 a bounded chunk of rows at a time, the
// export transform undone, cast to the output dtype.
type ggufData struct {
	src *io.SectionReader
	// view is the mapped bytes of this (sub)tensor when the file is mapped:
	// chunks are read from it and their pages dropped once written.
	view       []byte
	off        int64 // of this (sub)tensor in src
	from, to   formats.DType
	rows, cols int64 // row-major, as stored
	rowBytes   int64
	op         string
	heads      int
	name       string
	srcName    string
	chunkBytes int64 // F32 working buffer bound (rowChunkBytes when 0)
}

func (d *ggufData) WriteTo(w io.Writer) (int64, error) {
	if d.from == d.to && d.op == "" {
		if d.view != nil {
			n, err := w.Write(d.view)
			dropPages(d.view)
			return int64(n), err
		}
		return formats.SectionData{R: io.NewSectionReader(d.src, d.off, d.rows*d.rowBytes)}.WriteTo(w)
	}
	unit := int64(1)
	if d.op == mapping.OpPermuteQK {
		unit = d.rows / int64(d.heads)
	}
	budget := d.chunkBytes
	if budget <= 0 {
		budget = rowChunkBytes
	}
	chunk := max(unit, budget/(4*max(d.cols, 1))/unit*unit)
	if d.op == mapping.OpTranspose {
		chunk = d.rows // a transpose needs the whole tensor
	}
	chunk = min(chunk, d.rows)
	var raw []byte
	if d.view == nil {
		raw = make([]byte, chunk*d.rowBytes)
	}
	x := make([]float32, chunk*d.cols)
	var tmp []float32
	if d.op == mapping.OpPermuteQK || d.op == mapping.OpTranspose {
		tmp = make([]float32, len(x))
	}
	var out []byte
	if d.to != formats.F32 {
		out = make([]byte, chunk*d.cols*int64(d.to.Bits()/8))
	}
	workers := runtime.GOMAXPROCS(0)
	var written int64
	for row := int64(0); row < d.rows; row += chunk {
		k := min(chunk, d.rows-row)
		var b []byte
		if d.view != nil {
			b = d.view[row*d.rowBytes : (row+k)*d.rowBytes]
		} else {
			b = raw[:k*d.rowBytes]
			if _, err := d.src.ReadAt(b, d.off+row*d.rowBytes); err != nil && !(errors.Is(err, io.EOF) && row+k == d.rows) {
				return written, fmt.Errorf("tensor %q (%s): read: %w", d.name, d.srcName, err)
			}
		}
		xs := x[:k*d.cols]
		if err := ggml.Dequantize(xs, b, d.from); err != nil {
			return written, fmt.Errorf("tensor %q (%s): %w", d.name, d.srcName, err)
		}
		switch d.op {
		case mapping.OpPermuteQK:
			xs = unpermuteQK(tmp[:len(xs)], xs, k, d.cols, int(k/unit))
		case mapping.OpNormPlusOne:
			for i := range xs {
				xs[i]--
			}
		case mapping.OpTranspose:
			t := tmp[:len(xs)]
			for i := int64(0); i < k; i++ {
				for j := int64(0); j < d.cols; j++ {
					t[j*k+i] = xs[i*d.cols+j]
				}
			}
			xs = t
		}
		o := f32Bytes(xs)
		if d.to != formats.F32 {
			o = out[:len(xs)*d.to.Bits()/8]
			if err := cast.ConvertParallel(o, d.to, f32Bytes(xs), formats.F32, cast.Options{}, workers); err != nil {
				return written, fmt.Errorf("tensor %q: %w", d.name, err)
			}
		}
		n, err := w.Write(o)
		written += int64(n)
		if err != nil {
			return written, err
		}
		if d.view != nil {
			dropPages(b)
		}
	}
	return written, nil
}

// unpermuteQK is the inverse of permuteQK: rows in llama.cpp's interleaved
// rotary layout back to HF's rotate-half layout, per head. It writes into
// dst and returns it.
func unpermuteQK(dst, x []float32, rows, cols int64, nHead int) []float32 {
	half := int(rows) / nHead / 2
	c := int(cols)
	for h := 0; h < nHead; h++ {
		base := h * 2 * half
		for j := 0; j < half; j++ {
			for i := 0; i < 2; i++ {
				from := base + j*2 + i
				to := base + i*half + j
				copy(dst[to*c:(to+1)*c], x[from*c:(from+1)*c])
			}
		}
	}
	return dst
}
