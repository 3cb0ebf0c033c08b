package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/gguf"
	"mlmf/formats/safetensors"
	"mlmf/internal/demo"
	"mlmf/mapping"
)

// naivePermute is numpy's reshape(n, 2, rows/n/2, cols).swapaxes(1, 2)
// written out with explicit indices.
func naivePermute(x []float32, rows, cols, n int) []float32 {
	half := rows / n / 2
	out := make([]float32, len(x))
	k := 0
	for h := 0; h < n; h++ {
		for j := 0; j < half; j++ { // axes after swap: (n, half, 2, cols)
			for i := 0; i < 2; i++ {
				for c := 0; c < cols; c++ {
					out[k] = x[((h*2+i)*half+j)*cols+c]
					k++
				}
			}
		}
	}
	return out
}

func TestPermuteQK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ rows, cols, heads int }{{8, 3, 1}, {8, 3, 2}, {16, 4, 4}, {12, 1, 3}, {64, 64, 4}} {
		x := make([]float32, tc.rows*tc.cols)
		for i := range x {
			x[i] = float32(i)
		}
		got := permuteQK(x, []int64{int64(tc.rows), int64(tc.cols)}, tc.heads)
		want := naivePermute(x, tc.rows, tc.cols, tc.heads)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("rows=%d cols=%d heads=%d: element %d = %v, want %v", tc.rows, tc.cols, tc.heads, i, got[i], want[i])
			}
		}
	}
}

func TestSizeLabelAndTitle(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{117952: "118K", 1_235_814_400: "1.2B", 7_241_732_096: "7.2B", 494_032_768: "494M", 12_500: "12K", 3_000: "3.0K"} {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
	for in, want := range map[string]string{"checkpoint": "Checkpoint", "tiny-llama-v1.1": "Tiny Llama v1.1", "Llama-2-7b-hf": "Llama 2 7b Hf", "my_model": "My_Model"} {
		if got := idToTitle(in); got != want {
			t.Errorf("idToTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

func demoDir(t *testing.T) string {
	t.Helper()
	dir, err := demo.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportGGUFDemo(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	out := filepath.Join(t.TempDir(), "demo.gguf")
	var events []Progress
	res, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.F32}, func(p Progress) { events = append(events, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Arch != "llama" || res.Tensors != 21 {
		t.Fatalf("result %+v, want llama with 21 tensors", res)
	}
	if len(events) != 21 || events[20].Bytes != events[20].TotalBytes {
		t.Fatalf("%d progress events, last %+v", len(events), events[len(events)-1])
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for key, want := range map[string]uint64{"general.file_type": 0, "llama.block_count": 2, "llama.attention.head_count": 4,
		"llama.attention.head_count_kv": 2, "llama.rope.dimension_count": 16, "llama.vocab_size": 343} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d (present %v), want %d", key, got, ok, want)
		}
	}
	if n, ok := f.Strings("tokenizer.ggml.tokens"); !ok || len(n) != 343 {
		t.Errorf("tokenizer.ggml.tokens: %d tokens, want 343", len(n))
	}

	// attn_k of block 0 is the source's k_proj with rows permuted for 2 heads.
	src, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	read := func(r formats.Reader, name string) ([]float32, formats.TensorInfo) {
		t.Helper()
		var info formats.TensorInfo
		for _, ti := range r.Tensors() {
			if ti.Name == name {
				info = ti
			}
		}
		sr, err := r.TensorReader(name)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, sr.Size())
		if _, err := sr.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		x := make([]float32, info.NumElements())
		if err := cast.ToFloat32(x, b, info.DType); err != nil {
			t.Fatal(err)
		}
		return x, info
	}
	k, kinfo := read(src, "model.layers.0.self_attn.k_proj.weight")
	got, ginfo := read(f, "blk.0.attn_k.weight")
	if ginfo.DType != formats.F32 || len(got) != len(k) {
		t.Fatalf("blk.0.attn_k.weight: %v %v", ginfo.DType, ginfo.Shape)
	}
	want := naivePermute(k, int(kinfo.Shape[0]), int(kinfo.Shape[1]), 2)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("blk.0.attn_k.weight[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestExportGGUFTypes(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	for _, typ := range []formats.DType{formats.F16, formats.BF16, formats.Q8_0, formats.Invalid} {
		out := filepath.Join(t.TempDir(), "demo.gguf")
		if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: typ}, nil); err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if typ == formats.Invalid {
			typ = formats.BF16 // auto: the demo is BF16
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range f.Tensors() {
			want := typ
			if len(ti.Shape) == 1 {
				want = formats.F32
			}
			if ti.DType != want {
				t.Errorf("%v: tensor %s is %v, want %v", typ, ti.Name, ti.DType, want)
			}
		}
		if ft, _ := f.Uint("general.file_type"); uint32(ft) != fileTypes[typ] {
			t.Errorf("%v: general.file_type %d", typ, ft)
		}
		f.Close()
	}
}

func TestExportGGUFCancelAndBadInput(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "demo.gguf")

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := ExportGGUF(ctx, ExportRequest{Source: dir, Output: out, Type: formats.F16}, func(Progress) {
		if n++; n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: err %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("cancelled export left %v", ents)
	}

	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: formats.Q4_K}, nil); !errors.Is(err, ErrExportUnsupported) {
		t.Fatalf("Q4_K: err %v, want ErrExportUnsupported", err)
	}

	// An unknown tensor is refused with its name, before anything is written.
	bad := t.TempDir()
	for _, name := range []string{"config.json", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeExtraTensor(t, filepath.Join(dir, "model.safetensors"), filepath.Join(bad, "model.safetensors"))
	_, err = ExportGGUF(context.Background(), ExportRequest{Source: bad, Output: out, Type: formats.F32}, nil)
	if err == nil || !strings.Contains(err.Error(), "model.extra_scale") {
		t.Fatalf("unmapped tensor: err %v, want one naming model.extra_scale", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("refused export left %v", ents)
	}
}

// writeExtraTensor copies a safetensors file with one more tensor that no
// LLaMA rule maps.
func writeExtraTensor(t *testing.T, src, dst string) {
	t.Helper()
	r, err := formats.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var tensors []formats.Tensor
	for _, ti := range r.Tensors() {
		sr, err := r.TensorReader(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, formats.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: formats.SectionData{R: sr}})
	}
	extra := make([]byte, 4)
	binary.LittleEndian.PutUint32(extra, math.Float32bits(1))
	tensors = append(tensors, formats.Tensor{Name: "model.extra_scale", DType: formats.F32, Shape: []int64{1},
		Data: formats.SectionData{R: io.NewSectionReader(bytes.NewReader(extra), 0, 4)}})
	if err := safetensors.WriteFile(context.Background(), dst, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

// TestExportChunking checks that a tensor written a few rows (or heads) at
// a time equals the tensor written in one piece.
func TestExportChunking(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	r, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	infos := map[string]formats.TensorInfo{}
	for _, ti := range r.Tensors() {
		infos[ti.Name] = ti
	}
	for _, tc := range []struct {
		name  string
		heads int
	}{
		{"model.layers.0.self_attn.q_proj.weight", 4},
		{"model.layers.1.self_attn.k_proj.weight", 2},
		{"model.embed_tokens.weight", 0},
		{"model.layers.0.mlp.down_proj.weight", 0},
		{"model.norm.weight", 0},
	} {
		info := infos[tc.name]
		for _, to := range []formats.DType{formats.F32, formats.F16, formats.BF16, formats.Q8_0} {
			if len(info.Shape) == 1 && to != formats.F32 {
				continue
			}
			write := func(chunkBytes int64, mapped bool) []byte {
				sr, err := r.TensorReader(tc.name)
				if err != nil {
					t.Fatal(err)
				}
				var view []byte
				if mapped {
					v, ok := r.(viewer)
					if !ok {
						t.Fatalf("%T maps no tensors", r)
					}
					if view, err = v.View(tc.name); err != nil {
						t.Fatal(err)
					}
				}
				var b bytes.Buffer
				pt := mapping.PlanTensor{Name: tc.name, Sources: []string{tc.name}}
				if tc.heads > 0 {
					pt.Transform = &mapping.Transform{Op: mapping.OpPermuteQK, Arg: "n"}
				}
				e, err := newExportData("demo", pt, []exportSource{{info: info, src: sr, view: view}}, func(string) int { return tc.heads }, to)
				if err != nil {
					t.Fatal(err)
				}
				e.to, e.chunkBytes = to, chunkBytes
				if _, err := e.WriteTo(&b); err != nil {
					t.Fatalf("%s as %v: %v", tc.name, to, err)
				}
				return b.Bytes()
			}
			whole := write(1<<30, false)
			if size, _ := to.ByteSize(info.Shape); int64(len(whole)) != size {
				t.Fatalf("%s as %v: %d bytes, want %d", tc.name, to, len(whole), size)
			}
			for _, cb := range []int64{1, 4 * info.Shape[len(info.Shape)-1] * 3, 1 << 30} {
				for _, mapped := range []bool{false, true} {
					if got := write(cb, mapped); !bytes.Equal(got, whole) {
						t.Errorf("%s as %v: written in chunks of %d bytes (mapped %v) differs from whole", tc.name, to, cb, mapped)
					}
				}
			}
		}
	}
}

func TestExportGGUFNoVocab(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	bare := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bare, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "bare.gguf")
	_, err := ExportGGUF(context.Background(), ExportRequest{Source: bare, Output: out, Type: formats.F16}, nil)
	if err == nil || !strings.Contains(err.Error(), "--no-vocab") {
		t.Fatalf("no tokenizer: err %v, want one suggesting --no-vocab", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("refused export left %v", ents)
	}
	for _, src := range []string{bare, dir} {
		if _, err := ExportGGUF(context.Background(), ExportRequest{Source: src, Output: out, Type: formats.F16, NoVocab: true}, nil); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range f.KVs() {
			if strings.HasPrefix(kv.Key, "tokenizer.") {
				t.Errorf("%s: --no-vocab wrote %s", src, kv.Key)
			}
		}
		if len(f.Tensors()) != 21 {
			t.Errorf("%s: %d tensors", src, len(f.Tensors()))
		}
		f.Close()
	}
}
