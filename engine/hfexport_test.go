package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/formats/gguf"
)

func TestUnpermuteQKInvertsPermute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ rows, cols, heads int }{{8, 3, 1}, {8, 3, 2}, {16, 4, 4}, {12, 1, 3}, {64, 64, 4}} {
		x := make([]float32, tc.rows*tc.cols)
		for i := range x {
			x[i] = float32(i)
		}
		p := permuteQK(x, []int64{int64(tc.rows), int64(tc.cols)}, tc.heads)
		got := make([]float32, len(p))
		unpermuteQK(got, p, tc.heads, tc.cols)
		if !slices.Equal(got, x) {
			t.Fatalf("rows=%d cols=%d heads=%d: unpermute(permute(x)) != x", tc.rows, tc.cols, tc.heads)
		}
	}
}

// demoGGUF exports the demo checkpoint to a GGUF of the given type.
func demoGGUF(t *testing.T, typ formats.DType) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "demo.gguf")
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: demoDir(t), Output: out, Type: typ}, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestExportHFCancelLeavesOutputAsItWas(t *testing.T) {
	t.Parallel()
	sources := map[string]string{"safetensors": demoDir(t), "gguf": demoGGUF(t, formats.Q8_0)}
	for name, src := range sources {
		for _, existing := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/new", true: "/existing"}[existing], func(t *testing.T) {
				t.Parallel()
				parent := t.TempDir()
				dst := filepath.Join(parent, "out")
				if existing {
					if err := os.Mkdir(dst, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dst, "config.json"), []byte("{}"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				before := listDir(t, parent)
				ctx, cancel := context.WithCancel(context.Background())
				n := 0
				_, err := ExportHF(ctx, HFExportRequest{Source: src, Output: dst, DType: formats.F16, ShardSize: 50_000}, func(Progress) {
					if n++; n == 3 {
						cancel()
					}
				})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err %v, want context.Canceled", err)
				}
				if got := listDir(t, parent); !slices.Equal(got, before) {
					t.Fatalf("parent holds %v after cancel, want %v", got, before)
				}
				if existing {
					if got := listDir(t, dst); !slices.Equal(got, []string{"config.json"}) {
						t.Fatalf("existing output holds %v after cancel", got)
					}
				}
				// The same request without cancel succeeds.
				res, err := ExportHF(context.Background(), HFExportRequest{Source: src, Output: dst, DType: formats.F16, ShardSize: 50_000}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(listDir(t, dst), "model.safetensors.index.json") || res.Tensors != 21 {
					t.Fatalf("output %v, %d tensors", listDir(t, dst), res.Tensors)
				}
				if got := listDir(t, parent); !slices.Equal(got, []string{"out"}) {
					t.Fatalf("parent holds %v after export", got)
				}
			})
		}
	}
}

func zeroF32Tensor(name string, shape ...int64) formats.Tensor {
	n, _ := formats.NumElements(shape)
	return formats.Tensor{Name: name, DType: formats.F32, Shape: shape, Data: formats.BytesData(make([]byte, 4*n))}
}

func TestExportHFBadGGUF(t *testing.T) {
	t.Parallel()
	hp := func(arch string) []gguf.KV {
		return []gguf.KV{gguf.String("general.architecture", arch), gguf.Uint32(arch+".block_count", 1),
			gguf.Uint32(arch+".embedding_length", 8), gguf.Uint32(arch+".feed_forward_length", 16),
			gguf.Uint32(arch+".attention.head_count", 2), gguf.Uint32(arch+".context_length", 32)}
	}
	for _, tc := range []struct {
		name    string
		kvs     []gguf.KV
		tensors []formats.Tensor
		want    string
	}{
		{"unknown arch", hp("frobnicator"), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8)}, `architecture "frobnicator" is not known`},
		{"unsupported arch", hp("bert"), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8)}, "to Hugging Face: not supported by the Hugging Face export (supported: gemma,"},
		{"unmapped tensor", hp("llama"), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8), zeroF32Tensor("blk.0.mystery.weight", 8, 8)},
			`"blk.0.mystery.weight" has no Hugging Face name`},
		{"rope scaling", append(hp("llama"), gguf.String("llama.rope.scaling.type", "yarn")), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8)},
			`rope scaling "yarn"`},
		{"missing fused part", append(hp("qwen2moe"), gguf.Uint32("qwen2moe.expert_count", 2)),
			[]formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8), zeroF32Tensor("blk.0.ffn_up_exps.weight", 2, 4, 8)},
			"blk.0.ffn_gate_exps.weight of the fused tensor is missing"},
		{"rope freqs", hp("llama"), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8), zeroF32Tensor("rope_freqs.weight", 4)},
			"rope_freqs.weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "bad.gguf")
			if err := gguf.Write(context.Background(), src, tc.kvs, tc.tensors); err != nil {
				t.Fatal(err)
			}
			_, err := ExportHF(context.Background(), HFExportRequest{Source: src, Output: filepath.Join(dir, "out")}, nil)
			if !errors.Is(err, ErrHFExportUnsupported) || !errors.Is(err, ErrExportUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrHFExportUnsupported mentioning %q", err, tc.want)
			}
			if got := listDir(t, dir); !slices.Equal(got, []string{"bad.gguf"}) {
				t.Fatalf("refused export left %v", got)
			}
		})
	}
	// A GGUF whose tensors miss some the model needs is refused too.
	dir := t.TempDir()
	src := filepath.Join(dir, "partial.gguf")
	if err := gguf.Write(context.Background(), src, hp("llama"), []formats.Tensor{zeroF32Tensor("token_embd.weight", 10, 8)}); err != nil {
		t.Fatal(err)
	}
	_, err := ExportHF(context.Background(), HFExportRequest{Source: src, Output: filepath.Join(dir, "out")}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing tensor") {
		t.Fatalf("partial model: err %v, want missing tensors listed", err)
	}
}

// TestGGUFDataChunking checks that a tensor written a few rows (or heads) at
// a time, mapped or read, equals the tensor written in one piece.
func TestGGUFDataChunking(t *testing.T) {
	t.Parallel()
	for _, typ := range []formats.DType{formats.F32, formats.Q8_0} {
		g, err := gguf.Open(demoGGUF(t, typ))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		for _, tc := range []struct {
			name  string
			op    string
			heads int
		}{
			{"blk.0.attn_q.weight", "permute_qk", 4},
			{"blk.1.attn_k.weight", "permute_qk", 2},
			{"token_embd.weight", "", 0},
			{"blk.0.ffn_down.weight", "norm_plus_one", 0},
			{"output_norm.weight", "", 0},
		} {
			info, _ := g.Tensor(tc.name)
			rows, cols := info.Shape[0], int64(1)
			for _, d := range info.Shape[1:] {
				cols *= d
			}
			if len(info.Shape) == 1 {
				rows, cols = 1, info.Shape[0]
			}
			rowBytes := info.Size / rows
			for _, to := range []formats.DType{formats.F32, formats.F16, formats.BF16} {
				write := func(chunkBytes int64, mapped bool) []byte {
					seg, err := segmentOf(g, &info)
					if err != nil {
						t.Fatal(err)
					}
					if !mapped {
						seg.view = nil
					}
					d := &ggufData{segs: []ggufSeg{seg.sub(0, rows, rowBytes)}, to: to, cols: cols,
						op: tc.op, heads: tc.heads, name: tc.name, chunkBytes: chunkBytes}
					var b bytes.Buffer
					if _, err := d.WriteTo(&b); err != nil {
						t.Fatalf("%s as %v: %v", tc.name, to, err)
					}
					return b.Bytes()
				}
				whole := write(1<<30, false)
				if size, _ := to.ByteSize(info.Shape); int64(len(whole)) != size {
					t.Fatalf("%s as %v: %d bytes, want %d", tc.name, to, len(whole), size)
				}
				for _, cb := range []int64{1, 4 * cols * 3, 1 << 30} {
					for _, mapped := range []bool{false, true} {
						if got := write(cb, mapped); !bytes.Equal(got, whole) {
							t.Errorf("%v %s as %v: chunks of %d bytes (mapped %v) differ from whole", typ, tc.name, to, cb, mapped)
						}
					}
				}
			}
		}
	}
}

func TestReadProvenance(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "hub", "models--some-org--tiny-llama-v2", "snapshots", "0123456789abcdef0123456789abcdef01234567")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	card := "---\r\nlicense: [mit, apache-2.0]\r\nbase_model:\r\n- meta-llama/Llama-2-7b-hf\r\n- https://huggingface.co/mistralai/Mistral-7B-v0.1\r\n" +
		"tags: [chat]\r\npipeline_tag: text-generation\r\nlanguage: en\r\n---\r\n# hi\r\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(w, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadProvenance(dir, []string{w}, map[string]string{"type": "Q8_0", "a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if p.RepoID != "some-org/tiny-llama-v2" || p.Name != "Tiny Llama v2" || p.Organization != "Some Org" || p.License != "mit,apache-2.0" {
		t.Fatalf("provenance %+v", p)
	}
	want := []BaseModel{
		{Name: "Llama 2 7b Hf", Organization: "Meta Llama", RepoURL: "https://huggingface.co/meta-llama/Llama-2-7b-hf"},
		{Name: "Mistral 7B v0.1", Organization: "Mistralai", RepoURL: "https://huggingface.co/mistralai/Mistral-7B-v0.1"},
	}
	if !slices.Equal(p.BaseModels, want) {
		t.Fatalf("base models %+v, want %+v", p.BaseModels, want)
	}
	kvs := map[string]any{}
	for _, kv := range p.GGUFKVs() {
		kvs[kv.Key] = kv.Value
	}
	for k, v := range map[string]any{
		"general.base_model.count": uint32(2), "general.base_model.1.organization": "Mistralai",
		"general.source.repo_url": "https://huggingface.co/some-org/tiny-llama-v2", "mlmf.options": "a=b type=Q8_0",
	} {
		if kvs[k] != v {
			t.Errorf("%s = %v, want %v", k, kvs[k], v)
		}
	}
	files, _ := kvs["mlmf.source.files"].([]string)
	if !slices.Equal(files, []string{"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  3  model.safetensors"}) {
		t.Errorf("mlmf.source.files = %v", files)
	}
	if !slices.Equal(p.Tags, []string{"chat", "text-generation"}) || !slices.Equal(p.Languages, []string{"en"}) {
		t.Errorf("tags %v languages %v", p.Tags, p.Languages)
	}
	// Applied to an export's metadata, the lineage keys go where gguf-py
	// writes them, mlmf's at the end.
	kvl := []gguf.KV{gguf.String("general.architecture", "llama"), gguf.String("general.type", "model"),
		gguf.String("general.name", "X"), gguf.String("general.size_label", "1B"), gguf.Uint32("llama.block_count", 1)}
	for _, kv := range p.GGUFKVs() {
		kvl = setMetaKV(kvl, kv)
	}
	var order []string
	for _, kv := range kvl {
		order = append(order, kv.Key)
	}
	wantOrder := []string{"general.architecture", "general.type", "general.name", "general.organization", "general.size_label",
		"general.license", "general.source.repo_url", "general.base_model.count",
		"general.base_model.0.name", "general.base_model.0.organization", "general.base_model.0.repo_url",
		"general.base_model.1.name", "general.base_model.1.organization", "general.base_model.1.repo_url",
		"general.tags", "general.languages", "llama.block_count", "mlmf.version", "mlmf.source.files", "mlmf.options"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("order\n%v\nwant\n%v", order, wantOrder)
	}
	// A broken front matter is an error that says where.
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("---\nlicense: [\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadProvenance(dir, nil, nil); err == nil || !strings.Contains(err.Error(), "README.md") {
		t.Fatalf("broken card: err %v", err)
	}
}

// TestApplyProvenanceOnExportKVs is the call ExportGGUF will make once its
// metadata is built, applied here to the metadata of an exported file.
func TestApplyProvenanceOnExportKVs(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	out := demoGGUF(t, formats.F32)
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	kvs := append([]gguf.KV(nil), g.KVs()...)
	name, _ := g.String("general.name")
	g.Close()
	r, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := CheckpointFiles(r, dir)
	r.Close()
	kvs, err = ApplyProvenance(kvs, dir, files, map[string]string{"to": "gguf", "type": "F32"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	var keys []string
	for _, kv := range kvs {
		got[kv.Key] = kv.Value
		keys = append(keys, kv.Key)
	}
	if got["general.name"] != name || got["mlmf.options"] != "to=gguf type=F32" || got["mlmf.version"] != Version {
		t.Fatalf("kvs %v", got)
	}
	if fs, _ := got["mlmf.source.files"].([]string); len(fs) != 1 || !strings.HasSuffix(fs[0], "  model.safetensors") {
		t.Fatalf("mlmf.source.files = %v", got["mlmf.source.files"])
	}
	// general.name keeps its place; only mlmf.* keys are new, at the end.
	if keys[2] != "general.name" || !slices.Equal(keys[len(keys)-3:], []string{"mlmf.version", "mlmf.source.files", "mlmf.options"}) {
		t.Fatalf("key order %v", keys)
	}
	if err := gguf.Write(context.Background(), filepath.Join(t.TempDir(), "with-provenance.gguf"), kvs, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDequantizeRowsParallel(t *testing.T) {
	t.Parallel()
	const rows, cols = 300, 512
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32((i*7919)%1000)/500 - 1
	}
	for _, typ := range []formats.DType{formats.Q8_0, formats.Q4_0, formats.F16} {
		rb, err := ggml.RowSize(typ, cols)
		if err != nil {
			t.Fatal(err)
		}
		q := make([]byte, rows*rb)
		if typ == formats.F16 {
			if err := cast.Convert(q, formats.F16, f32Bytes(x), formats.F32, cast.Options{}); err != nil {
				t.Fatal(err)
			}
		} else if err := ggml.Quantize(q, x, typ, cols, nil); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		if err := ggml.Dequantize(want, q, typ); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2, 3, 7} {
			got := make([]float32, len(x))
			if err := dequantizeRows(got, q, typ, rows, cols, int64(rb), workers); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%v with %d workers differs from one", typ, workers)
			}
		}
	}
}

// f32Data is a tensor whose element i is base+i.
func f32Data(name string, base float32, shape ...int64) formats.Tensor {
	n, _ := formats.NumElements(shape)
	x := make([]float32, n)
	for i := range x {
		x[i] = base + float32(i)
	}
	return formats.Tensor{Name: name, DType: formats.F32, Shape: shape, Data: formats.BytesData(append([]byte(nil), f32Bytes(x)...))}
}

// TestExportHFUnstacksPerHeadNorms writes a StableLM GGUF whose per-head
// Q/K norms are stacked [n_head, head_dim] (as llama.cpp stores them) and
// checks the export splits them back into q_layernorm.norms.N, row N each,
// and sets qk_layernorm.
func TestExportHFUnstacksPerHeadNorms(t *testing.T) {
	t.Parallel()
	const a = "stablelm"
	kvs := []gguf.KV{gguf.String("general.architecture", a), gguf.Uint32(a+".block_count", 1),
		gguf.Uint32(a+".embedding_length", 8), gguf.Uint32(a+".feed_forward_length", 16),
		gguf.Uint32(a+".attention.head_count", 2), gguf.Uint32(a+".attention.head_count_kv", 1),
		gguf.Uint32(a+".context_length", 32), gguf.Uint32(a+".rope.dimension_count", 2),
		gguf.Float32(a+".attention.layer_norm_epsilon", 1e-5)}
	tensors := []formats.Tensor{
		f32Data("token_embd.weight", 0, 10, 8), f32Data("output_norm.weight", 0, 8), f32Data("output_norm.bias", 0, 8),
		f32Data("output.weight", 0, 10, 8),
		f32Data("blk.0.attn_norm.weight", 0, 8), f32Data("blk.0.attn_norm.bias", 0, 8),
		f32Data("blk.0.attn_q.weight", 0, 8, 8), f32Data("blk.0.attn_k.weight", 0, 4, 8), f32Data("blk.0.attn_v.weight", 0, 4, 8),
		f32Data("blk.0.attn_output.weight", 0, 8, 8),
		f32Data("blk.0.attn_q_norm.weight", 100, 2, 4), f32Data("blk.0.attn_k_norm.weight", 200, 1, 4),
		f32Data("blk.0.ffn_norm.weight", 0, 8), f32Data("blk.0.ffn_norm.bias", 0, 8),
		f32Data("blk.0.ffn_gate.weight", 0, 16, 8), f32Data("blk.0.ffn_up.weight", 0, 16, 8), f32Data("blk.0.ffn_down.weight", 0, 8, 16),
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "stablelm.gguf")
	if err := gguf.Write(context.Background(), src, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hf")
	if _, err := ExportHF(context.Background(), HFExportRequest{Source: src, Output: out}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := formats.Open(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, base := range map[string]float32{
		"model.layers.0.self_attn.q_layernorm.norms.0.weight": 100, "model.layers.0.self_attn.q_layernorm.norms.1.weight": 104,
		"model.layers.0.self_attn.k_layernorm.norms.0.weight": 200,
	} {
		sr, err := r.TensorReader(name)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, sr.Size())
		if _, err := sr.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		want := f32Data("", base, 4).Data.(formats.BytesData)
		if !bytes.Equal(b, want) {
			t.Errorf("%s = % x, want % x", name, b, []byte(want))
		}
	}
	cfg, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"qk_layernorm": true`, `"partial_rotary_factor": 0.5`, `"layer_norm_eps": 0.00001`, `"num_key_value_heads": 1`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.json lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(string(cfg), "use_qkv_bias") {
		t.Errorf("config.json sets use_qkv_bias without biases:\n%s", cfg)
	}
}
