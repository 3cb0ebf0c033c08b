package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

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
		return nil, fmt.Errorf("export: %s: GGUF architecture %q is not known to mlmf's mapping: %w", src, garch, ErrHFExportUnsupported)
	}
	a, err := mapping.Lookup(cfg.ModelType)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", src, err)
	}
	arch := a.Name // the registry name: model_type may differ (gemma3_text)
	if !hfArchs[arch] {
		return nil, fmt.Errorf("export: %s: GGUF architecture %q (%s) to Hugging Face: %w (supported: %s)", src, garch, arch, ErrHFExportUnsupported, hfArchList())
	}
	if t, ok := g.String(garch + ".rope.scaling.type"); ok && t != "none" && t != "linear" {
		return nil, fmt.Errorf("export: %s: rope scaling %q cannot be written back to config.json: %w", src, t, ErrHFExportUnsupported)
	}
	if f, ok := g.Float(garch + ".rope.scaling.factor"); ok {
		if t, _ := g.String(garch + ".rope.scaling.type"); t == "linear" {
			cfg.RopeScaling = map[string]any{"rope_type": "linear", "factor": shortF32(f)}
		}
	}
	// GGUF stores these as float32: write the shortest decimal that reads
	// back as the same float32 (1e-05, not 9.999999747378752e-06).
	cfg.NormEps, cfg.RopeTheta = shortF32(cfg.NormEps), shortF32(cfg.RopeTheta)
	if _, ok := g.Tensor("rope_freqs.weight"); ok {
		return nil, fmt.Errorf("export: %s: rope_freqs.weight (Llama 3.1-style rope scaling) cannot be turned back into config.json's rope_scaling: %w", src, ErrHFExportUnsupported)
	}
	infos := g.TensorInfos()
	// The tensors outrank the metadata: convert_hf_to_gguf.py writes GPT-2's
	// feed_forward_length as 4*n_embd whatever n_inner is. ffn_down is
	// [n_embd, n_ff] in every architecture (ffn_up is fused with the gate
	// in some).
	if down, ok := g.Tensor("blk.0.ffn_down.weight"); ok && len(down.Shape) == 2 && down.Shape[1] <= 1<<24 {
		cfg.IntermediateSize = int(down.Shape[1])
	}
	_, hasOutput := g.Tensor("output.weight")
	tied := !hasOutput
	cfg.TieWordEmbeddings = &tied
	m, err := mapping.NewMapper(arch, cfg, nil)
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

	p := &hfPlan{arch: arch, class: firstOr(cfg.Architectures, ""), files: map[string][]byte{}, copies: map[string]string{}}
	srcTypes := map[formats.DType]bool{}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Pass 1: which HF tensor(s) each GGUF tensor becomes; the parts of a
	// fused HF tensor are gathered under it.
	type hfOut struct {
		names []string // several for stacked experts
		mp    mapping.Mapping
		parts []*gguf.TensorInfo // one, or the fused tensor's parts in order
	}
	var outs []*hfOut
	fused := map[string]*hfOut{}
	for i := range infos {
		t := &infos[i]
		names, ok := m.ToHF(t.Name)
		if !ok || len(names) == 0 {
			bad("tensor %q has no Hugging Face name in the %s mapping", t.Name, arch)
			continue
		}
		mp, ok := m.ToCanonical(names[0])
		pi := slices.Index(mp.Parts, t.Name)
		if !ok || (mp.Canonical != t.Name && pi < 0) {
			bad("tensor %q: %s does not map back to it", t.Name, names[0])
			continue
		}
		if !ggml.CanDequantize(t.DType) {
			bad("tensor %q: type %v cannot be dequantized", t.Name, t.DType)
			continue
		}
		if len(t.Shape) == 0 {
			bad("tensor %q has no dimensions", t.Name)
			continue
		}
		srcTypes[t.DType] = true
		if len(mp.Parts) == 0 {
			outs = append(outs, &hfOut{names: names, mp: mp, parts: []*gguf.TensorInfo{t}})
			continue
		}
		o := fused[names[0]]
		if o == nil {
			o = &hfOut{names: names[:1], mp: mp, parts: make([]*gguf.TensorInfo, len(mp.Parts))}
			fused[names[0]] = o
			outs = append(outs, o)
		}
		o.parts[pi] = t
	}

	// Pass 2: each HF tensor's data, as segments of GGUF rows.
	var hfInfos []formats.TensorInfo
	for _, o := range outs {
		if i := slices.Index(o.parts, nil); i >= 0 {
			bad("tensor %q: part %s of the fused tensor is missing", o.names[0], o.mp.Parts[i])
			continue
		}
		first := o.parts[0]
		mp := o.mp
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
				if heads <= 0 || first.Shape[0]%int64(2*heads) != 0 {
					bad("tensor %q: %d rows cannot be un-permuted for %s=%d", first.Name, first.Shape[0], tr.Arg, heads)
					continue
				}
				op = tr.Op
			case mapping.OpNormPlusOne, mapping.OpTranspose:
				op = tr.Op
			case mapping.OpStackExperts, mapping.OpSplit:
			default:
				bad("tensor %q: undoing transform %s is not supported", first.Name, tr.Op)
				continue
			}
		}
		td := to
		if !first.DType.IsFloat() && !first.DType.IsQuantized() {
			td = first.DType
		}

		if len(o.parts) > 1 {
			// A fused HF tensor [n, Σ rows_p, cols] (transformers 5's
			// experts.gate_up_proj): for each leading index, the rows of
			// every part in turn (the split was along axis 1).
			segs, shape, err := fusedSegments(g, o.parts)
			if err != nil {
				bad("tensor %q: %v", o.names[0], err)
				continue
			}
			size, err := td.ByteSize(shape)
			if err != nil {
				return nil, fmt.Errorf("export: %s: tensor %q: %w", src, o.names[0], err)
			}
			p.tensors = append(p.tensors, formats.Tensor{Name: o.names[0], DType: td, Shape: shape,
				Data: &ggufData{segs: segs, cols: shape[len(shape)-1], to: td, name: o.names[0]}})
			p.sizes = append(p.sizes, size)
			hfInfos = append(hfInfos, formats.TensorInfo{Name: o.names[0], DType: td, Shape: shape})
			continue
		}

		t := first
		names := o.names
		stacked := len(names) > 1 || mp.Expert != nil
		if stacked && (len(t.Shape) < 2 || t.Shape[0] != int64(len(names))) {
			bad("tensor %q: shape %v does not stack %d experts", t.Name, t.Shape, len(names))
			continue
		}
		if stacked && op != "" {
			bad("tensor %q: transform %s on stacked experts is not supported", t.Name, op)
			continue
		}
		seg, err := segmentOf(g, t)
		if err != nil {
			return nil, err
		}
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
			bad("tensor %q: %v", t.Name, err)
			continue
		}
		outShape := append([]int64(nil), shape...)
		if op == mapping.OpTranspose {
			if len(outShape) != 2 {
				bad("tensor %q: transpose of a %d-D tensor", t.Name, len(outShape))
				continue
			}
			outShape[0], outShape[1] = outShape[1], outShape[0]
		}
		size, err := td.ByteSize(outShape)
		if err != nil {
			return nil, fmt.Errorf("export: %s: tensor %q: %w", src, t.Name, err)
		}
		for x, name := range names {
			s := seg.sub(int64(x)*rows, rows, int64(rowBytes))
			d := &ggufData{segs: []ggufSeg{s}, to: td, cols: cols, op: op, heads: heads, name: name}
			p.tensors = append(p.tensors, formats.Tensor{Name: name, DType: td, Shape: outShape, Data: d})
			p.sizes = append(p.sizes, size)
			hfInfos = append(hfInfos, formats.TensorInfo{Name: name, DType: td, Shape: outShape})
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("export: %s: cannot be written as a Hugging Face %s model: %w:\n  %s", src, arch,
			ErrHFExportUnsupported, strings.Join(firstN(problems, 20), "\n  "))
	}
	// The rebuilt checkpoint must be one the mapping fully explains: no
	// missing tensors, shapes as the rebuilt config implies.
	if err := checkReport(src, m.Report(hfInfos)); err != nil {
		return nil, err
	}

	// Vocabulary → tokenizer files, special ids → config.
	var vocab *tokenizer.Vocab
	if _, ok := g.Get(tokenizer.KeyModel); ok && !req.NoVocab {
		tkv := make([]tokenizer.KV, 0, len(g.KVs()))
		for _, kv := range g.KVs() {
			if strings.HasPrefix(kv.Key, "tokenizer.") {
				tkv = append(tkv, tokenizer.KV{Key: kv.Key, Value: kv.Value})
			}
		}
		if vocab, err = tokenizer.FromKVs(tkv); err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary: %w (--no-vocab writes the model without tokenizer files)", src, err)
		}
		hf, err := tokenizer.ExportHF(vocab)
		if err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary to tokenizer.json: %w (--no-vocab writes the model without tokenizer files)", src, err)
		}
		p.files["tokenizer.json"] = hf.TokenizerJSON
		p.files["tokenizer_config.json"] = hf.TokenizerConfig
		if hf.TokenizerModel != nil {
			p.files["tokenizer.model"] = hf.TokenizerModel
		}
	}
	p.dtype = torchDTypes[to]
	cfg.TorchDType = p.dtype
	// head_dim is written even when it is hidden_size / heads: some
	// configs (Qwen3, Gemma) default it to something else.
	if n, ok := g.Uint(garch + ".attention.key_length"); ok && n > 0 && n <= 1<<20 {
		cfg.HeadDim = int(n)
	}
	gen := map[string]any{}
	cfg.Extra = map[string]json.RawMessage{}
	if cfg.RotaryDim == cfg.HeadSize() {
		cfg.RotaryDim = 0
	}
	if cfg.RotaryDim > 0 {
		if !hfPartialRotary[arch] {
			return nil, fmt.Errorf("export: %s: rotary dimension %d of head size %d: partial rotary embeddings of %s: %w",
				src, cfg.RotaryDim, cfg.HeadSize(), arch, ErrHFExportUnsupported)
		}
		cfg.Extra["partial_rotary_factor"] = floatJSON(shortF32(float64(cfg.RotaryDim) / float64(cfg.HeadSize())))
		cfg.RotaryDim = 0
	}
	for _, f := range hfConfigFloats[arch] {
		if v, ok := g.Get(garch + "." + f.gguf); ok {
			n, ok := ggufFloat(v.Value)
			if !ok {
				return nil, fmt.Errorf("export: %s: %s.%s = %v is not a number", src, garch, f.gguf, v.Value)
			}
			if f.integer {
				cfg.Extra[f.key], _ = json.Marshal(int64(n))
			} else {
				cfg.Extra[f.key] = floatJSON(shortF32(n))
			}
		}
	}
	if arch == "gemma3" {
		// llama.cpp's local (sliding-window) layers use base 10000.
		cfg.Extra["rope_local_base_freq"] = floatJSON(10000)
	}
	if arch == "gemma2" || arch == "gemma3" {
		// llama.cpp scales queries by 1/sqrt(head_dim), except for Gemma 2
		// 27B (46 blocks): 1/sqrt(n_embd/n_head). The GGUF keeps no
		// query_pre_attn_scalar, so this is what reproduces llama.cpp.
		q := cfg.HeadSize()
		if (arch == "gemma2" && cfg.NumLayers == 46 || arch == "gemma3" && cfg.NumLayers == 62) && cfg.NumHeads > 0 {
			q = cfg.HiddenSize / cfg.NumHeads
		}
		cfg.Extra["query_pre_attn_scalar"], _ = json.Marshal(q)
	}
	for _, f := range hfConfigFlags[arch] {
		var have []string
		for _, t := range f.tensors {
			if _, ok := g.Tensor(t); ok {
				have = append(have, t)
			}
		}
		switch len(have) {
		case 0:
		case len(f.tensors):
			cfg.Extra[f.key] = json.RawMessage("true")
		default:
			return nil, fmt.Errorf("export: %s: has %s but not all of %s, which %s's %s sets together: %w",
				src, strings.Join(have, ", "), strings.Join(f.tensors, ", "), arch, f.key, ErrHFExportUnsupported)
		}
	}
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
	for from, to := range hfConfigKeys[arch] {
		if v, ok := c[from]; ok {
			delete(c, from)
			c[to] = v
		}
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
	for d := range srcTypes {
		p.card.Dequantized = p.card.Dequantized || d.IsQuantized()
	}
	for _, s := range p.sizes {
		p.card.Bytes += s
	}
	return p, nil
}

// hfConfigKeys are the config.json keys an architecture's transformers
// config reads in place of the canonical ones ModelConfig writes.
var hfConfigKeys = map[string]map[string]string{
	"gpt2":       {"intermediate_size": "n_inner", "rms_norm_eps": "layer_norm_epsilon"},
	"qwen2_moe":  {"num_local_experts": "num_experts"},
	"qwen3_moe":  {"num_local_experts": "num_experts"},
	"starcoder2": {"rms_norm_eps": "norm_epsilon"},
	"stablelm":   {"rms_norm_eps": "layer_norm_eps"},
}

// hfConfigFlag is a config.json boolean that makes transformers build
// optional modules; the export sets it when the GGUF has all the tensors
// listed (those of block 0) and refuses a GGUF that has only some.
type hfConfigFlag struct {
	key     string
	tensors []string
}

var (
	attnBias = hfConfigFlag{"attention_bias", []string{"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias", "blk.0.attn_output.bias"}}
	qkvBias  = hfConfigFlag{"use_qkv_bias", []string{"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"}}
)

var hfConfigFlags = map[string][]hfConfigFlag{
	"llama":     {attnBias, {"mlp_bias", []string{"blk.0.ffn_gate.bias", "blk.0.ffn_up.bias", "blk.0.ffn_down.bias"}}},
	"qwen3":     {attnBias},
	"qwen3_moe": {attnBias},
	"olmo":      {attnBias},
	"olmo2":     {attnBias},
	"stablelm":  {qkvBias, {"qk_layernorm", []string{"blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"}}},
}

// hfConfigFloat is a config.json number stored under an architecture's
// GGUF key ({arch}.gguf).
type hfConfigFloat struct {
	gguf, key string
	integer   bool
}

var hfConfigFloats = map[string][]hfConfigFloat{
	"gemma2": {{"attn_logit_softcapping", "attn_logit_softcapping", false}, {"final_logit_softcapping", "final_logit_softcapping", false},
		{"attention.sliding_window", "sliding_window", true}},
	"gemma3": {{"final_logit_softcapping", "final_logit_softcapping", false}, {"attention.sliding_window", "sliding_window", true}},
}

// floatJSON writes a float with a decimal point (30.0, not 30): transformers
// 5's strictly typed configs refuse an integer for a float field.
func floatJSON(f float64) json.RawMessage {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return json.RawMessage(s)
}

func ggufFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case uint32:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// hfPartialRotary are the architectures whose config reads
// partial_rotary_factor.
var hfPartialRotary = map[string]bool{"stablelm": true, "phi3": true}

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

// ggufSeg is a run of rows of one GGUF tensor.
type ggufSeg struct {
	src *io.SectionReader // the whole GGUF tensor
	// view is the whole tensor's mapped bytes when the file is mapped:
	// chunks are read from it and their pages dropped once written.
	view     []byte
	off      int64 // of the run in the tensor
	rows     int64
	rowBytes int64
	from     formats.DType
	name     string
}

func segmentOf(g *gguf.File, t *gguf.TensorInfo) (ggufSeg, error) {
	sr, err := g.TensorReader(t.Name)
	if err != nil {
		return ggufSeg{}, err
	}
	s := ggufSeg{src: sr, rows: 1, rowBytes: sr.Size(), from: t.DType, name: t.Name}
	if v, err := g.View(t.Name); err == nil && int64(len(v)) == sr.Size() {
		s.view = v
	}
	return s, nil
}

// sub is the run of rows [row, row+rows) of rowBytes each.
func (s ggufSeg) sub(row, rows, rowBytes int64) ggufSeg {
	s.off, s.rows, s.rowBytes = row*rowBytes, rows, rowBytes
	return s
}

// fusedSegments lays out the parts [n, rows_p, cols] of a tensor split
// along axis 1 as the fused [n, Σ rows_p, cols].
func fusedSegments(g *gguf.File, parts []*gguf.TensorInfo) ([]ggufSeg, []int64, error) {
	segs := make([]ggufSeg, len(parts))
	var n, cols, rows int64
	for i, t := range parts {
		if t == nil {
			return nil, nil, fmt.Errorf("part %d of the fused tensor is missing from the GGUF", i)
		}
		if len(t.Shape) != 3 {
			return nil, nil, fmt.Errorf("part %q has shape %v; only [n, rows, cols] parts are re-fused", t.Name, t.Shape)
		}
		if i == 0 {
			n, cols = t.Shape[0], t.Shape[2]
		} else if t.Shape[0] != n || t.Shape[2] != cols {
			return nil, nil, fmt.Errorf("part %q has shape %v, unlike %v of %q", t.Name, t.Shape, parts[0].Shape, parts[0].Name)
		}
		s, err := segmentOf(g, t)
		if err != nil {
			return nil, nil, err
		}
		segs[i] = s
		rows += t.Shape[1]
	}
	out := make([]ggufSeg, 0, int(n)*len(parts))
	for x := range n {
		for i, t := range parts {
			rb, err := ggml.RowSize(t.DType, int(cols))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, segs[i].sub(x*t.Shape[1], t.Shape[1], int64(rb)))
		}
	}
	return out, []int64{n, rows, cols}, nil
}

// ggufData produces one HF tensor from runs of GGUF rows (a whole tensor,
// one expert of a stacked one, or the parts of a fused one): dequantized to
// F32 a bounded chunk of rows at a time, the export transform undone, cast
// to the output dtype.
type ggufData struct {
	segs       []ggufSeg
	cols       int64
	to         formats.DType
	op         string // permute_qk, norm_plus_one or transpose: single segment only
	heads      int
	name       string
	chunkBytes int64 // F32 working buffer bound (rowChunkBytes when 0)
}

func (d *ggufData) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for _, s := range d.segs {
		n, err := d.writeSeg(w, s)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func (d *ggufData) writeSeg(w io.Writer, s ggufSeg) (int64, error) {
	var view []byte
	if s.view != nil {
		view = s.view[s.off : s.off+s.rows*s.rowBytes]
	}
	if s.from == d.to && d.op == "" {
		if view != nil {
			n, err := w.Write(view)
			dropPages(view)
			return int64(n), err
		}
		return formats.SectionData{R: io.NewSectionReader(s.src, s.off, s.rows*s.rowBytes)}.WriteTo(w)
	}
	unit := int64(1)
	if d.op == mapping.OpPermuteQK {
		unit = s.rows / int64(d.heads)
	}
	budget := d.chunkBytes
	if budget <= 0 {
		budget = rowChunkBytes
	}
	chunk := max(unit, budget/(4*max(d.cols, 1))/unit*unit)
	if d.op == mapping.OpTranspose {
		chunk = s.rows // a transpose needs the whole tensor
	}
	chunk = min(chunk, s.rows)
	var raw []byte
	if view == nil {
		raw = make([]byte, chunk*s.rowBytes)
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
	for row := int64(0); row < s.rows; row += chunk {
		k := min(chunk, s.rows-row)
		var b []byte
		if view != nil {
			b = view[row*s.rowBytes : (row+k)*s.rowBytes]
		} else {
			b = raw[:k*s.rowBytes]
			if _, err := s.src.ReadAt(b, s.off+row*s.rowBytes); err != nil && !(errors.Is(err, io.EOF) && s.off+(row+k)*s.rowBytes == s.src.Size()) {
				return written, fmt.Errorf("tensor %q (%s): read: %w", d.name, s.name, err)
			}
		}
		xs := x[:k*d.cols]
		if err := dequantizeRows(xs, b, s.from, k, d.cols, s.rowBytes, workers); err != nil {
			return written, fmt.Errorf("tensor %q (%s): %w", d.name, s.name, err)
		}
		switch d.op {
		case mapping.OpPermuteQK:
			unpermuteQK(tmp[:len(xs)], xs, int(k/unit), int(d.cols))
			xs = tmp[:len(xs)]
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
		if view != nil {
			dropPages(b)
		}
	}
	return written, nil
}

// dequantizeRows decodes k rows of cols elements (rowBytes each) with the
// rows split across workers goroutines; rows are whole blocks, so the
// result does not depend on workers.
func dequantizeRows(dst []float32, src []byte, t formats.DType, k, cols, rowBytes int64, workers int) error {
	const minParallel = 1 << 16 // elements below which one goroutine is faster
	if workers <= 1 || k < 2 || k*cols < minParallel {
		return ggml.Dequantize(dst, src, t)
	}
	per := (k + int64(workers) - 1) / int64(workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := int64(w)*per, min(int64(w+1)*per, k)
		if lo >= hi {
			break
		}
		wg.Go(func() {
			errs[w] = ggml.Dequantize(dst[lo*cols:hi*cols], src[lo*rowBytes:hi*rowBytes], t)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
