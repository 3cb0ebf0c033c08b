package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats"
	"mlmf/internal/atomicfile"
	"mlmf/internal/demo"
)

func demoModel(t *testing.T) string {
	t.Helper()
	dir, err := demo.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "model.safetensors")
}

func tensorBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	r, err := formats.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string][]byte{}
	for _, ti := range r.Tensors() {
		sr, err := r.TensorReader(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, ti.Size)
		if _, err := sr.ReadAt(b, 0); err != nil && ti.Size > 0 {
			t.Fatal(err)
		}
		out[ti.Name] = b
	}
	return out
}

func TestConvertRoundTripBF16F32(t *testing.T) {
	src := demoModel(t)
	dir := t.TempDir()
	f32 := filepath.Join(dir, "f32.safetensors")
	back := filepath.Join(dir, "bf16.safetensors")
	var events int
	res, err := Convert(context.Background(), ConvertRequest{Source: src, Output: f32, DType: formats.F32}, func(p Progress) {
		events++
		if p.Index > p.Count || p.Bytes > p.TotalBytes {
			t.Errorf("progress out of range: %+v", p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if events != res.Tensors || res.Converted != res.Tensors {
		t.Errorf("events=%d converted=%d tensors=%d", events, res.Converted, res.Tensors)
	}
	if _, err := Convert(context.Background(), ConvertRequest{Source: f32, Output: back, DType: formats.BF16}, nil); err != nil {
		t.Fatal(err)
	}
	want, got := tensorBytes(t, src), tensorBytes(t, back)
	if len(want) != len(got) {
		t.Fatalf("tensor count %d != %d", len(got), len(want))
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("%s: BF16 → F32 → BF16 changed the bytes", name)
		}
	}
	r, err := formats.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Metadata()["format"] != "pt" {
		t.Errorf("metadata lost format=pt: %v", r.Metadata())
	}
}

func TestConvertSharded(t *testing.T) {
	src := demoModel(t)
	out := filepath.Join(t.TempDir(), "sharded")
	res, err := Convert(context.Background(), ConvertRequest{Source: src, Output: out, ShardSize: 100_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) < 2 {
		t.Fatalf("want several shards, got %v", res.Files)
	}
	want, got := tensorBytes(t, src), tensorBytes(t, out)
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("%s differs after sharding", name)
		}
	}
}

func TestConvertCancelLeavesTargetAsItWas(t *testing.T) {
	src := demoModel(t)
	dir := t.TempDir()
	for _, shard := range []int64{0, 100_000} {
		out := filepath.Join(dir, "out.safetensors")
		if shard > 0 {
			out = filepath.Join(dir, "outdir")
			os.RemoveAll(out)
		} else if err := os.WriteFile(out, []byte("previous contents"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Convert(ctx, ConvertRequest{Source: src, Output: out, DType: formats.F32, ShardSize: shard}, func(p Progress) {
			if p.Index == 3 {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("shard=%d: err = %v, want context.Canceled", shard, err)
		}
		if shard == 0 {
			if b, _ := os.ReadFile(out); string(b) != "previous contents" {
				t.Errorf("target changed by a cancelled conversion: %q", b)
			}
		} else if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("cancelled sharded conversion left files: %v", ents)
		}
		left, _ := atomicfile.Leftovers(dir)
		if len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	}
}

func TestConvertRejectsNonFloatTarget(t *testing.T) {
	src := demoModel(t)
	_, err := Convert(context.Background(), ConvertRequest{Source: src, Output: filepath.Join(t.TempDir(), "x"), DType: formats.I8}, nil)
	if err == nil {
		t.Fatal("want error for an integer target dtype")
	}
}
