package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mlmf/formats/ggml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/gguf"
	"mlmf/formats/safetensors"
	"mlmf/mapping"
)

// memSource is an in-memory source tensor of the given type holding x.
func memSource(t *testing.T, name string, dt formats.DType, shape []int64, x []float32) exportSource {
	t.Helper()
	size, err := dt.ByteSize(shape)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if err := cast.Convert(b, dt, f32Bytes(x), formats.F32, cast.Options{}); err != nil {
		t.Fatal(err)
	}
	return exportSource{info: formats.TensorInfo{Name: name, DType: dt, Shape: shape}, src: io.NewSectionReader(bytes.NewReader(b), 0, size)}
}

func ramp(n int64, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)*scale - 1
	}
	return x
}

func writeAll(t *testing.T, e *exportData) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := e.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := e.to.ByteSize(e.shape); n != size || int64(b.Len()) != size {
		t.Fatalf("%s: wrote %d bytes (reported %d), want %d", e.name, b.Len(), n, size)
	}
	return b.Bytes()
}

func asF32(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	copy(f32Bytes(x), b)
	return x
}

// TestExportTransforms checks each transform against a naive version of
// what convert_hf_to_gguf.py does (tests/interop/test_mapping_convert.py's
// apply_transform), at F32, and that writing in small chunks (and at Q8_0)
// gives the same bytes as one piece.
func TestExportTransforms(t *testing.T) {
	t.Parallel()
	split3 := func(x []float32, s []int64, parts, part int) []float32 {
		// np.split(x, parts, axis=1)[part] for x of shape s (3-D)
		var out []float32
		k := s[1] / int64(parts)
		for a := range s[0] {
			for b := int64(part) * k; b < int64(part+1)*k; b++ {
				out = append(out, x[(a*s[1]+b)*s[2]:(a*s[1]+b+1)*s[2]]...)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		op    string
		srcs  [][]int64
		part  int
		parts int
		dt    formats.DType
		want  func(xs [][]float32) []float32
		shape []int64
	}{
		{name: "blk.0.attn_norm.weight", op: mapping.OpNormPlusOne, srcs: [][]int64{{64}}, dt: formats.BF16, shape: []int64{64},
			want: func(xs [][]float32) []float32 {
				out := slices.Clone(xs[0])
				for i := range out {
					out[i]++
				}
				return out
			}},
		{name: "blk.0.ffn_gate_exps.weight", op: mapping.OpStackExperts, srcs: [][]int64{{8, 32}, {8, 32}, {8, 32}}, dt: formats.F32, shape: []int64{3, 8, 32},
			want: func(xs [][]float32) []float32 { return slices.Concat(xs...) }},
		{name: "blk.0.ffn_up_exps.weight", op: mapping.OpSplit, srcs: [][]int64{{2, 8, 32}}, part: 1, parts: 2, dt: formats.BF16, shape: []int64{2, 4, 32},
			want: func(xs [][]float32) []float32 { return split3(xs[0], []int64{2, 8, 32}, 2, 1) }},
		{name: "blk.0.ffn_gate_exps.weight", op: mapping.OpSplit, srcs: [][]int64{{2, 8, 32}}, part: 0, parts: 2, dt: formats.F16, shape: []int64{2, 4, 32},
			want: func(xs [][]float32) []float32 { return split3(xs[0], []int64{2, 8, 32}, 2, 0) }},
		{name: "blk.0.attn_qkv.bias", op: mapping.OpSplit, srcs: [][]int64{{96}}, part: 2, parts: 3, dt: formats.F32, shape: []int64{32},
			want: func(xs [][]float32) []float32 { return xs[0][64:] }},
		{name: "blk.0.attn_qkv.weight", op: mapping.OpTranspose, srcs: [][]int64{{32, 96}}, dt: formats.BF16, shape: []int64{96, 32},
			want: func(xs [][]float32) []float32 {
				out := make([]float32, 0, len(xs[0]))
				for j := range 96 {
					for i := range 32 {
						out = append(out, xs[0][i*96+j])
					}
				}
				return out
			}},
		{name: "blk.0.attn_qkv.bias", op: mapping.OpTranspose, srcs: [][]int64{{96}}, dt: formats.F32, shape: []int64{96},
			want: func(xs [][]float32) []float32 { return xs[0] }},
		{name: "blk.0.attn_q.weight", op: mapping.OpPermuteQK, srcs: [][]int64{{16, 32}}, dt: formats.F32, shape: []int64{16, 32},
			want: func(xs [][]float32) []float32 { return naivePermute(xs[0], 16, 32, 4) }},
	} {
		t.Run(tc.op+"/"+tc.name, func(t *testing.T) {
			var srcs []exportSource
			var xs [][]float32
			var names []string
			for i, s := range tc.srcs {
				name := fmt.Sprintf("src.%d.weight", i)
				x := ramp(prod(s), 0.01+float32(i)/7)
				// the values as the source type holds them
				srcs = append(srcs, memSource(t, name, tc.dt, s, x))
				b := make([]byte, 4*len(x))
				raw := make([]byte, srcs[i].src.Size())
				if _, err := srcs[i].src.ReadAt(raw, 0); err != nil {
					t.Fatal(err)
				}
				if err := cast.Convert(b, formats.F32, raw, tc.dt, cast.Options{}); err != nil {
					t.Fatal(err)
				}
				xs = append(xs, asF32(b))
				names = append(names, name)
			}
			pt := mapping.PlanTensor{Name: tc.name, Sources: names, Transform: &mapping.Transform{Op: tc.op, Arg: "n_head"}, Part: tc.part, Parts: tc.parts}
			heads := func(string) int { return 4 }
			e, err := newExportData("ckpt", pt, srcs, heads, formats.F32)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.shape, tc.shape) {
				t.Fatalf("shape %v, want %v", e.shape, tc.shape)
			}
			got := asF32(writeAll(t, e))
			want := tc.want(xs)
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d = %v, want %v", i, got[i], want[i])
				}
			}
			for _, to := range []formats.DType{formats.F32, formats.F16, formats.Q8_0} {
				e, err := newExportData("ckpt", pt, srcs, heads, to)
				if err != nil {
					t.Fatal(err)
				}
				whole := writeAll(t, e)
				for _, cb := range []int64{1, 4 * tc.shape[len(tc.shape)-1] * 3} {
					e.chunkBytes = cb
					if !bytes.Equal(writeAll(t, e), whole) {
						t.Errorf("as %v in chunks of %d bytes: differs from one piece", e.to, cb)
					}
				}
			}
		})
	}
}

// TestNormPlusOneF16 checks that the + 1 of an F16 norm is rounded to F16,
// as the converter adds in the source's type.
func TestNormPlusOneF16(t *testing.T) {
	t.Parallel()
	x := []float32{1.0 / 2048, 0.5, -1}
	pt := mapping.PlanTensor{Name: "output_norm.weight", Sources: []string{"model.norm.weight"}, Transform: &mapping.Transform{Op: mapping.OpNormPlusOne}}
	for dt, want := range map[formats.DType][]float32{
		formats.F16: {1, 1.5, 0},            // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even is 1
		formats.F32: {1 + 1.0/2048, 1.5, 0}, // exact in F32
	} {
		e, err := newExportData("ckpt", pt, []exportSource{memSource(t, "model.norm.weight", dt, []int64{3}, x)}, nil, formats.F16)
		if err != nil {
			t.Fatal(err)
		}
		if e.to != formats.F32 {
			t.Fatalf("a norm is written as %v, want F32", e.to)
		}
		if got := asF32(writeAll(t, e)); !slices.Equal(got, want) {
			t.Errorf("%v source: %v, want %v", dt, got, want)
		}
	}
}

func TestExportDataRefusesMalformed(t *testing.T) {
	t.Parallel()
	f32 := func(name string, shape ...int64) exportSource {
		return memSource(t, name, formats.F32, shape, make([]float32, prod(shape)))
	}
	tr := func(op string) *mapping.Transform { return &mapping.Transform{Op: op, Arg: "n_head"} }
	i32 := exportSource{info: formats.TensorInfo{Name: "model.ids", DType: formats.I32, Shape: []int64{4}}, src: io.NewSectionReader(bytes.NewReader(make([]byte, 16)), 0, 16)}
	short := f32("model.short.weight", 4, 4)
	short.src = io.NewSectionReader(bytes.NewReader(make([]byte, 60)), 0, 60)
	for _, tc := range []struct {
		what string
		pt   mapping.PlanTensor
		srcs []exportSource
		want string
	}{
		{"split of an odd dimension", mapping.PlanTensor{Name: "blk.0.ffn_up_exps.weight", Transform: tr(mapping.OpSplit), Part: 1, Parts: 2},
			[]exportSource{f32("model.layers.0.mlp.experts.gate_up_proj", 4, 7, 8)}, "cannot be split into 2 parts"},
		{"transpose of 3-D", mapping.PlanTensor{Name: "blk.0.attn_qkv.weight", Transform: tr(mapping.OpTranspose)},
			[]exportSource{f32("h.0.attn.c_attn.weight", 2, 3, 4)}, "cannot transpose"},
		{"experts of different shapes", mapping.PlanTensor{Name: "blk.0.ffn_gate_exps.weight", Transform: tr(mapping.OpStackExperts)},
			[]exportSource{f32("experts.0.w1.weight", 4, 8), f32("experts.1.w1.weight", 4, 9)}, "must agree"},
		{"permute of too few rows", mapping.PlanTensor{Name: "blk.0.attn_q.weight", Transform: tr(mapping.OpPermuteQK)},
			[]exportSource{f32("q_proj.weight", 12, 8)}, "cannot be permuted"},
		{"planned shape differs", mapping.PlanTensor{Name: "blk.0.attn_v.weight", Shape: []int64{8, 8}},
			[]exportSource{f32("v_proj.weight", 4, 8)}, "planned shape"},
		{"integer source", mapping.PlanTensor{Name: "blk.0.ids"}, []exportSource{i32}, "not a floating-point type"},
		{"truncated source", mapping.PlanTensor{Name: "blk.0.short.weight"}, []exportSource{short}, "60 bytes"},
		{"two sources unstacked", mapping.PlanTensor{Name: "blk.0.attn_k.weight"},
			[]exportSource{f32("a.weight", 4), f32("b.weight", 4)}, "without stacking"},
		{"unsupported transform", mapping.PlanTensor{Name: "blk.0.attn_k_b.weight", Transform: tr(mapping.OpSplitKVB)},
			[]exportSource{f32("kv_b_proj.weight", 8, 8)}, "split_kv_b"},
	} {
		for _, s := range tc.srcs {
			tc.pt.Sources = append(tc.pt.Sources, s.info.Name)
		}
		_, err := newExportData("/models/ckpt", tc.pt, tc.srcs, func(string) int { return 4 }, formats.Q8_0)
		if err == nil {
			t.Errorf("%s: accepted", tc.what)
			continue
		}
		for _, s := range []string{"/models/ckpt", tc.pt.Name, tc.srcs[0].info.Name, tc.want} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not name %q", tc.what, err, s)
			}
		}
	}
}

// writeGPT2 writes a tiny GPT-2 checkpoint (no tokenizer) with the given
// config changes; it returns the directory and the c_attn weight of block 0.
func writeGPT2(t *testing.T, change func(cfg map[string]any)) (string, []float32) {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"architectures": []string{"GPT2LMHeadModel"}, "model_type": "gpt2", "n_embd": 32, "n_layer": 1,
		"n_head": 2, "n_positions": 16, "n_ctx": 16, "vocab_size": 40, "layer_norm_epsilon": 1e-5, "n_inner": nil,
		"tie_word_embeddings": true}
	if change != nil {
		change(cfg)
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var tensors []formats.Tensor
	var cAttn []float32
	add := func(name string, shape ...int64) {
		x := ramp(prod(shape), 0.001)
		if name == "h.0.attn.c_attn.weight" {
			cAttn = x
		}
		b := slices.Clone(f32Bytes(x))
		tensors = append(tensors, formats.Tensor{Name: name, DType: formats.F32, Shape: shape,
			Data: formats.SectionData{R: io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))}})
	}
	add("wte.weight", 40, 32)
	add("wpe.weight", 16, 32)
	add("h.0.ln_1.weight", 32)
	add("h.0.ln_1.bias", 32)
	add("h.0.attn.c_attn.weight", 32, 96)
	add("h.0.attn.c_attn.bias", 96)
	add("h.0.attn.c_proj.weight", 32, 32)
	add("h.0.attn.c_proj.bias", 32)
	add("h.0.ln_2.weight", 32)
	add("h.0.ln_2.bias", 32)
	add("h.0.mlp.c_fc.weight", 32, 128)
	add("h.0.mlp.c_fc.bias", 128)
	add("h.0.mlp.c_proj.weight", 128, 32)
	add("h.0.mlp.c_proj.bias", 32)
	add("ln_f.weight", 32)
	add("ln_f.bias", 32)
	if err := safetensors.WriteFile(context.Background(), filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir, cAttn
}

func TestExportGGUFGPT2(t *testing.T) {
	t.Parallel()
	dir, cAttn := writeGPT2(t, nil)
	out := filepath.Join(t.TempDir(), "gpt2.gguf")
	res, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.Q8_0, NoVocab: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Arch != "gpt2" || res.Tensors != 16 {
		t.Fatalf("result %+v, want gpt2 with 16 tensors", res)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	for _, kv := range f.KVs() {
		if !strings.HasPrefix(kv.Key, "mlmf.") { // provenance: TestExportProvenance
			keys = append(keys, kv.Key)
		}
	}
	want := []string{"general.architecture", "general.type", "general.name", "general.size_label", "gpt2.block_count",
		"gpt2.context_length", "gpt2.embedding_length", "gpt2.feed_forward_length", "gpt2.attention.head_count",
		"gpt2.attention.layer_norm_epsilon", "general.file_type", "general.quantization_version"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v,\nwant %v", keys, want)
	}
	if n, _ := f.Uint("gpt2.feed_forward_length"); n != 128 {
		t.Errorf("feed_forward_length %d, want 4*n_embd", n)
	}
	types := map[string]formats.DType{}
	for _, ti := range f.Tensors() {
		types[ti.Name] = ti.DType
		if ti.Name == "blk.0.attn_qkv.weight" && !slices.Equal(ti.Shape, []int64{96, 32}) {
			t.Errorf("attn_qkv shape %v, want [96 32] (transposed)", ti.Shape)
		}
	}
	for name, want := range map[string]formats.DType{"token_embd.weight": formats.Q8_0, "position_embd.weight": formats.F32,
		"blk.0.attn_qkv.bias": formats.F32, "blk.0.attn_norm.weight": formats.F32, "blk.0.ffn_down.weight": formats.Q8_0} {
		if types[name] != want {
			t.Errorf("%s is %v, want %v", name, types[name], want)
		}
	}
	if _, ok := types["output.weight"]; ok {
		t.Error("tied output written")
	}

	// At F32 the QKV weight is the Conv1D weight transposed.
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.F32, NoVocab: true}, nil); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	sr, err := g.TensorReader("blk.0.attn_qkv.weight")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, sr.Size())
	if _, err := sr.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	got := asF32(b)
	for j := range 96 {
		for i := range 32 {
			if got[j*32+i] != cAttn[i*96+j] {
				t.Fatalf("attn_qkv[%d][%d] = %v, want c_attn[%d][%d] = %v", j, i, got[j*32+i], i, j, cAttn[i*96+j])
			}
		}
	}
}

// TestExportGGUFBadConfig: a config the converter could not read is
// refused with the file and the key, before any output is written.
func TestExportGGUFBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		change func(map[string]any)
		want   string
	}{
		{func(c map[string]any) { delete(c, "n_ctx") }, "n_ctx: missing"},
		{func(c map[string]any) { c["layer_norm_epsilon"] = "small" }, "layer_norm_epsilon"},
		{func(c map[string]any) { c["n_ctx"] = 16.5 }, "n_ctx: 16.5 is not a count"},
	} {
		dir, _ := writeGPT2(t, tc.change)
		outDir := t.TempDir()
		_, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: filepath.Join(outDir, "x.gguf"), Type: formats.F16, NoVocab: true}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) {
			t.Errorf("err %v, want one naming config.json and %q", err, tc.want)
		}
		if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
			t.Errorf("refused export left %v", ents)
		}
	}
	// An architecture the mapping knows but the export does not.
	dir, _ := writeGPT2(t, func(c map[string]any) {})
	cfg := map[string]any{"architectures": []string{"BertModel"}, "model_type": "bert"}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: filepath.Join(t.TempDir(), "x.gguf"), Type: formats.F16, NoVocab: true}, nil)
	if !errors.Is(err, ErrExportUnsupported) || !strings.Contains(err.Error(), "architecture bert") {
		t.Errorf("bert config: err %v", err)
	}
}

func TestParamCountLabel(t *testing.T) {
	t.Parallel()
	var c paramCount
	c.add("token_embd.weight", []int64{703, 64})
	c.add("blk.0.ffn_gate_exps.weight", []int64{4, 128, 64})
	c.add("blk.0.ffn_up_exps.weight", []int64{4, 128, 64})
	// shared 703*64 = 44992, experts 2*128*64 = 16384 per expert
	if got, want := c.label(), "4x61K"; got != want {
		t.Errorf("label %q, want %q", got, want)
	}
}

// TestExportGGUFPreset: a llama-quantize preset with --tensor-type over the
// exported tensor list, written in llama-quantize's order and metadata.
func TestExportGGUFPreset(t *testing.T) {
	t.Parallel()
	dir, _ := writeGPT2(t, nil)
	out := filepath.Join(t.TempDir(), "gpt2.gguf")
	opt := &quant.Options{FileType: quant.Q8_0, TensorTypes: []quant.TensorType{{Pattern: "attn_qkv", Type: formats.F16}}}
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Quant: opt, NoVocab: true}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kvs := f.KVs()
	if last := kvs[len(kvs)-1]; last.Key != "general.file_type" || last.Value != uint32(quant.Q8_0) {
		t.Errorf("last key %v, want general.file_type = %d", last, quant.Q8_0)
	}
	var names []string
	types := map[string]formats.DType{}
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
		types[ti.Name] = ti.DType
	}
	if names[0] != "output_norm.bias" || names[len(names)-1] != "blk.0.ffn_up.weight" {
		t.Errorf("tensor order %v, want llama-quantize's (non-block tensors, then by block, each by name)", names)
	}
	for name, want := range map[string]formats.DType{"blk.0.attn_qkv.weight": formats.F16, "blk.0.attn_qkv.bias": formats.F32,
		"blk.0.ffn_up.weight": formats.Q8_0, "position_embd.weight": formats.F32, "token_embd.weight": formats.Q8_0} {
		if types[name] != want {
			t.Errorf("%s is %v, want %v", name, types[name], want)
		}
	}
	// An explicit type that cannot hold the rows is refused before writing.
	outDir := t.TempDir()
	opt = &quant.Options{FileType: quant.Q8_0, TensorTypes: []quant.TensorType{{Pattern: "ffn_up", Type: formats.Q4_K}}}
	_, err = ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: filepath.Join(outDir, "x.gguf"), Quant: opt, NoVocab: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "blk.0.ffn_up.weight") {
		t.Errorf("Q4_K for rows of 32: err %v, want one naming blk.0.ffn_up.weight", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("refused export left %v", ents)
	}
}

func TestPhi3RopeFactors(t *testing.T) {
	t.Parallel()
	cfg := func(long string) *hparams {
		h, err := parseHParams([]byte(`{"hidden_size": 64, "num_attention_heads": 4, "max_position_embeddings": 1024,
			"rope_parameters": {"rope_type": "longrope", "original_max_position_embeddings": 256,
			"long_factor": `+long+`, "short_factor": [1, 1, 1, 1, 1, 1, 1, 1.5]}}`), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	xs, kvs, err := phi3RopeFactors(cfg(`[1, 2, 3, 4, 5, 6, 7, 8]`), "phi3.")
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 2 || xs[0].name != "rope_factors_long.weight" || xs[0].values[7] != 8 || xs[1].values[7] != 1.5 {
		t.Errorf("tensors %+v", xs)
	}
	want := float32(math.Sqrt(1 + math.Log(4)/math.Log(256)))
	if len(kvs) != 1 || kvs[0].Key != "phi3.rope.scaling.attn_factor" || kvs[0].Value != want {
		t.Errorf("kvs %v, want attn_factor %v", kvs, want)
	}
	if _, _, err := phi3RopeFactors(cfg(`[1, 2, 3]`), "phi3."); err == nil || !strings.Contains(err.Error(), "want 8 each") {
		t.Errorf("3 long factors: err %v", err)
	}
}

// TestExportProvenance: the GGUF names mlmf, the options and each source
// file with its size and sha256, hashed while the tensors streamed; and a
// preset keeps llama-quantize's general.file_type last.
func TestExportProvenance(t *testing.T) {
	t.Parallel()
	dir, _ := writeGPT2(t, nil)
	out := filepath.Join(t.TempDir(), "gpt2.gguf")
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.F16, NoVocab: true}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.String("mlmf.version"); v == "" {
		t.Error("no mlmf.version")
	}
	if v, _ := f.String("mlmf.options"); !strings.Contains(v, "type=F16") || !strings.Contains(v, "to=gguf") {
		t.Errorf("mlmf.options %q", v)
	}
	kv, ok := f.Get("mlmf.source.files")
	if !ok {
		t.Fatal("no mlmf.source.files")
	}
	lines, _ := kv.Value.([]string)
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := fmt.Sprintf("%x  %d  model.safetensors", sum, len(b))
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("mlmf.source.files %q, want [%q]", lines, want)
	}
}

// TestHyperKVs checks the recipes' keys, order and types on small configs
// (the interop tests compare them with convert_hf_to_gguf.py's).
func TestHyperKVs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		arch, config string
		want         []string
	}{
		{"gemma2", `{"max_position_embeddings": 128, "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128,
			"num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "head_dim": 16,
			"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": 64}`,
			[]string{"context_length=128", "embedding_length=64", "block_count=2", "feed_forward_length=128", "attention.head_count=4",
				"attention.head_count_kv=2", "attention.layer_norm_rms_epsilon=1e-06", "attention.key_length=16",
				"attention.value_length=16", "general.file_type=1", "attn_logit_softcapping=50", "final_logit_softcapping=30",
				"attention.sliding_window=64"}},
		{"qwen2moe", `{"num_hidden_layers": 2, "max_position_embeddings": 128, "hidden_size": 64, "intermediate_size": 128,
			"num_attention_heads": 4, "num_key_value_heads": 2, "rope_parameters": {"rope_type": "default", "rope_theta": 10000},
			"rms_norm_eps": 1e-6, "num_experts": 4, "num_experts_per_tok": 2, "head_dim": null, "moe_intermediate_size": 32,
			"shared_expert_intermediate_size": 96}`,
			[]string{"block_count=2", "context_length=128", "embedding_length=64", "feed_forward_length=128", "attention.head_count=4",
				"attention.head_count_kv=2", "rope.freq_base=10000", "attention.layer_norm_rms_epsilon=1e-06", "expert_count=4",
				"expert_used_count=2", "general.file_type=1", "expert_feed_forward_length=32", "expert_shared_feed_forward_length=96"}},
		{"llama", `{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 10, "rope_theta": 5e5,
			"rope_scaling": {"type": "linear", "factor": 2}}`,
			[]string{"block_count=2", "embedding_length=64", "attention.head_count=4", "rope.scaling.type=linear",
				"rope.scaling.factor=2", "rope.freq_base=500000", "general.file_type=1", "vocab_size=10", "rope.dimension_count=16"}},
		{"gpt2", `{"n_layer": 2, "n_ctx": 128, "n_embd": 64, "n_head": 4, "layer_norm_epsilon": 1e-5}`,
			[]string{"block_count=2", "context_length=128", "embedding_length=64", "feed_forward_length=256",
				"attention.head_count=4", "attention.layer_norm_epsilon=1e-05", "general.file_type=1"}},
	} {
		h, err := parseHParams([]byte(tc.config), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		kvs, err := hyperKVs(h, tc.arch, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.arch, err)
		}
		var got []string
		for _, kv := range kvs {
			got = append(got, fmt.Sprintf("%s=%v", strings.TrimPrefix(kv.Key, tc.arch+"."), kv.Value))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.arch, got, tc.want)
		}
	}
}

// TestExportDirectCast checks that the one-step casts (BF16 → F16, …)
// write what the converter's two steps through F32 write, for every 16-bit
// pattern (signalling NaNs and overflows included), whole and in chunks,
// with and without the Q/K permutation.
func TestExportDirectCast(t *testing.T) {
	t.Parallel()
	raw := make([]byte, 2<<16)
	for i := range 1 << 16 {
		raw[2*i], raw[2*i+1] = byte(i), byte(i>>8)
	}
	shape := []int64{256, 256}
	for _, from := range []formats.DType{formats.BF16, formats.F16} {
		wide := make([]byte, 4<<16)
		if err := cast.Convert(wide, formats.F32, raw, from, cast.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, to := range []formats.DType{formats.F16, formats.BF16, formats.F32} {
			for _, op := range []string{"", mapping.OpPermuteQK} {
				t.Run(fmt.Sprintf("%v-%v-%s", from, to, op), func(t *testing.T) {
					src := wide
					if op == mapping.OpPermuteQK {
						src = f32Bytes(permuteQK(asF32(wide), shape, 4))
					}
					want := make([]byte, len(src)/4*2)
					switch {
					case to == formats.F32:
						want = src
					case from == to && op == "":
						want = raw
					default:
						if err := cast.Convert(want, to, src, formats.F32, cast.Options{}); err != nil {
							t.Fatal(err)
						}
					}
					s := exportSource{info: formats.TensorInfo{Name: "w", DType: from, Shape: shape}, src: io.NewSectionReader(bytes.NewReader(raw), 0, int64(len(raw)))}
					pt := mapping.PlanTensor{Name: "blk.0.attn_q.weight", Sources: []string{"w"}}
					if op != "" {
						pt.Transform = &mapping.Transform{Op: op, Arg: "n_head"}
					}
					for _, view := range []bool{false, true} {
						for _, cb := range []int64{0, 4 * 256 * 64} {
							if view {
								// a copy: dropPages zeroes heap pages (a
								// file mapping would read them again)
								s.view = slices.Clone(raw)
							}
							e, err := newExportData("ckpt", pt, []exportSource{s}, func(string) int { return 4 }, to)
							if err != nil {
								t.Fatal(err)
							}
							e.chunkBytes = cb
							got := writeAll(t, e)
							if to == formats.BF16 {
								// cast's F32 → BF16 quiets a NaN to 7FC0 in its
								// scalar path and keeps the payload in its
								// vector one, so the NaN a two-step chunk gets
								// depends on its position: any NaN will do.
								for i := 0; i+1 < len(got) && len(got) == len(want); i += 2 {
									if isNaNBF16(got[i:]) && isNaNBF16(want[i:]) {
										got[i], got[i+1] = want[i], want[i+1]
									}
								}
							}
							if !bytes.Equal(got, want) {
								i := 0
								for got[i] == want[i] {
									i++
								}
								t.Fatalf("view %v, chunks of %d: differs from the two steps through F32 at byte %d of %d: % x, want % x", view, cb, i, len(got), got[i&^1:i&^1+2], want[i&^1:i&^1+2])
							}
						}
					}
				})
			}
		}
	}
	if m := directCast(formats.BF16, formats.F16); m == viaF32 {
		t.Errorf("BF16 → F16 goes through F32")
	}
}

func isNaNBF16(b []byte) bool {
	h := uint16(b[0]) | uint16(b[1])<<8
	return h&0x7f80 == 0x7f80 && h&0x7f != 0
}

func TestHasNonFinite16(t *testing.T) {
	t.Parallel()
	for _, mask := range []uint16{0x7c00, 0x7f80} {
		b := make([]byte, 2*67)
		for i := range 67 {
			b[2*i+1] = 0x3c // 1.0 in F16, 1.875 in BF16: finite
		}
		if hasNonFinite16(b, mask) {
			t.Fatalf("mask %04x: finite values reported", mask)
		}
		for i := range 67 {
			for _, v := range []uint16{mask, mask | 1, mask | 0x8000, mask | 0x8001} {
				c := slices.Clone(b)
				c[2*i], c[2*i+1] = byte(v), byte(v>>8)
				if !hasNonFinite16(c, mask) {
					t.Fatalf("mask %04x: %04x at %d missed", mask, v, i)
				}
			}
		}
	}
}

func BenchmarkHasNonFinite16(b *testing.B) {
	buf := make([]byte, 16<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		hasNonFinite16(buf, 0x7c00)
	}
}

// TestExportPresetRefusesOverflow: with a llama-quantize preset, a tensor
// whose Q4_0 scales overflow f16 is refused as llama_model_quantize refuses
// it (ggml_validate_row_data), naming the tensor, and nothing is written.
func TestExportPresetRefusesOverflow(t *testing.T) {
	t.Parallel()
	dir, _ := writeGPT2(t, nil)
	path := filepath.Join(dir, "model.safetensors")
	r, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var tensors []formats.Tensor
	for _, ti := range r.Tensors() {
		b, err := r.View(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		b = slices.Clone(b)
		if ti.Name == "h.0.mlp.c_fc.weight" {
			x := asF32(b)
			for i := range x {
				x[i] = 1e7 * float32(i%5+1)
			}
			b = slices.Clone(f32Bytes(x))
		}
		tensors = append(tensors, formats.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: formats.BytesData(b)})
	}
	r.Close()
	if err := safetensors.WriteFile(context.Background(), path, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "q.gguf")
	opt := &quant.Options{FileType: quant.Q4_0}
	_, err = ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Quant: opt, NoVocab: true}, nil)
	if err == nil || !errors.Is(err, ggml.ErrInvalidData) || !strings.Contains(err.Error(), "ffn_up") {
		t.Fatalf("err = %v, want the overflow refused for blk.0.ffn_up.weight", err)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	// Plain --type Q8_0 is the converter's, which does not check.
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.Q8_0, NoVocab: true}, nil); err != nil {
		t.Fatal(err)
	}
}
