package engine

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/safetensors"
)

// tensorEdit changes one tensor of the demo checkpoint in editDemo.
type tensorEdit struct {
	drop  bool
	shape []int64           // new shape, same element count
	vals  func(x []float32) // edits the values (written back as F32)
}

// editDemo writes a copy of the demo checkpoint (config and tokenizer
// included) with some tensors dropped, reshaped or changed, and extra F32
// tensors added, and returns its directory.
func editDemo(t *testing.T, edits map[string]tensorEdit, extra map[string][]float32) string {
	t.Helper()
	src := demoDir(t)
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "model.safetensors" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := formats.Open(filepath.Join(src, "model.safetensors"))
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
		raw := make([]byte, ti.Size)
		if _, err := sr.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		out := formats.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: formats.BytesData(raw)}
		if ed, ok := edits[ti.Name]; ok {
			if ed.drop {
				continue
			}
			if ed.shape != nil {
				out.Shape = ed.shape
			}
			if ed.vals != nil {
				x := make([]float32, ti.NumElements())
				if err := cast.ToFloat32(x, raw, ti.DType); err != nil {
					t.Fatal(err)
				}
				ed.vals(x)
				out.DType, out.Data = formats.F32, formats.BytesData(f32Bytes(x))
			}
		}
		tensors = append(tensors, out)
	}
	for name, x := range extra {
		tensors = append(tensors, formats.Tensor{Name: name, DType: formats.F32, Shape: []int64{int64(len(x))}, Data: formats.BytesData(f32Bytes(x))})
	}
	if err := safetensors.WriteFile(context.Background(), filepath.Join(dst, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dst
}

func checkByName(t *testing.T, res *VerifyResult, name string) TensorCheck {
	t.Helper()
	for _, c := range res.Tensors {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check for %s", name)
	return TensorCheck{}
}

func TestVerifyDemoAndItsGGUF(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	res, err := Verify(context.Background(), VerifyRequest{Path: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || len(res.Problems) != 0 || res.Detection.Arch != "llama" {
		t.Fatalf("demo: ok=%v arch=%q problems %v", res.OK, res.Detection.Arch, res.Problems)
	}
	if len(res.Tensors) != 21 {
		t.Fatalf("%d tensors, want 21", len(res.Tensors))
	}
	q := checkByName(t, res, "model.layers.0.self_attn.q_proj.weight")
	if !q.Scanned || q.Canonical != "blk.0.attn_q.weight" || q.Count != 64*64 || q.Std <= 0 || q.Min >= q.Max {
		t.Fatalf("q_proj check %+v", q)
	}
	// The statistics agree with ComputeStats (same merge, other chunking).
	r, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, ti := range r.Tensors() {
		s, err := ComputeStats(context.Background(), r, ti, StatsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := checkByName(t, res, ti.Name)
		if c.Min != s.Min || c.Max != s.Max || c.Zero != s.Zero || math.Abs(c.Mean-s.Mean) > 1e-12 || math.Abs(c.Std-s.Std) > 1e-12 {
			t.Errorf("%s: verify %+v, stats %+v", ti.Name, c, s)
		}
	}

	for _, typ := range []formats.DType{formats.F32, formats.Q8_0} {
		out := filepath.Join(t.TempDir(), "demo.gguf")
		if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: typ}, nil); err != nil {
			t.Fatal(err)
		}
		g, err := Verify(context.Background(), VerifyRequest{Path: out}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !g.OK || g.Mapping == nil || g.Mapping.Summary.Mapped != 21 {
			t.Fatalf("%v GGUF: ok=%v problems %v warnings %v", typ, g.OK, g.Problems, g.Warnings)
		}
		c := checkByName(t, g, "blk.1.ffn_down.weight")
		if !c.Scanned || c.Canonical != "blk.1.ffn_down.weight" || c.Count != 64*128 {
			t.Fatalf("%v GGUF: ffn_down check %+v", typ, c)
		}
	}
}

func TestVerifyFindsProblems(t *testing.T) {
	t.Parallel()
	dir := editDemo(t, map[string]tensorEdit{
		"model.layers.0.mlp.up_proj.weight": {vals: func(x []float32) {
			x[3], x[10], x[11] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
		}},
		"model.layers.1.self_attn.v_proj.weight": {drop: true},
		"model.layers.1.mlp.gate_proj.weight":    {shape: []int64{64, 128}},
	}, map[string][]float32{"model.extra_scale": {1}})
	res, err := Verify(context.Background(), VerifyRequest{Path: dir, Workers: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Fatal("broken checkpoint verified ok")
	}
	all := strings.Join(res.Problems, "\n")
	for _, want := range []string{
		`tensor "model.layers.0.mlp.up_proj.weight": 1 NaN, 1 +Inf, 1 -Inf of 8192 values`,
		"missing tensor blk.1.attn_v.weight",
		`unmapped tensor "model.extra_scale"`,
		"shape mismatch: model.layers.1.mlp.gate_proj.weight",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	up := checkByName(t, res, "model.layers.0.mlp.up_proj.weight")
	if up.NaN != 1 || up.PosInf != 1 || up.NegInf != 1 || math.IsNaN(up.Mean) || math.IsInf(up.Std, 0) {
		t.Errorf("up_proj check %+v", up)
	}
	if n := len(res.Problems); n != 4 {
		t.Errorf("%d problems, want 4:\n%s", n, all)
	}
}

func TestVerifyWorkersAgree(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	var results []*VerifyResult
	for _, w := range []int{1, 2, 5} {
		res, err := Verify(context.Background(), VerifyRequest{Path: dir, Workers: w}, nil)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	for _, res := range results[1:] {
		if !slices.EqualFunc(res.Tensors, results[0].Tensors, func(a, b TensorCheck) bool {
			return a.Name == b.Name && a.Min == b.Min && a.Max == b.Max && a.Mean == b.Mean && a.Std == b.Std && a.Zero == b.Zero
		}) {
			t.Fatal("statistics depend on the worker count")
		}
	}
}

func TestVerifyCancel(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Verify(ctx, VerifyRequest{Path: dir, Workers: 1}, func(p Progress) {
		if p.Index == 2 {
			cancel()
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestValueAccMergeMatchesOnePass(t *testing.T) {
	t.Parallel()
	x := make([]float32, 1000)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)) * float64(i%17))
	}
	var one, parts valueAcc
	one.add(x)
	for i := 0; i < len(x); i += 77 {
		var p valueAcc
		p.add(x[i:min(i+77, len(x))])
		parts.merge(p)
	}
	var a, b TensorCheck
	one.fill(&a)
	parts.fill(&b)
	if a.Min != b.Min || a.Max != b.Max || math.Abs(a.Mean-b.Mean) > 1e-12 || math.Abs(a.Std-b.Std) > 1e-12 || a.Zero != b.Zero {
		t.Fatalf("one pass %+v, merged %+v", a, b)
	}
}
