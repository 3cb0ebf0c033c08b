package gguf_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/gguf"
	"mlmf/formats/gguf/internal/fixture"
	"mlmf/internal/atomicfile"
)

func tensorBytes(t *testing.T, tensor formats.Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := tensor.Data.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameKVs compares KVs, treating float NaNs bitwise.
func sameKVs(t *testing.T, got, want []gguf.KV) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d KVs, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if f, ok := w.Value.(float32); ok && math.IsNaN(float64(f)) {
			if gf, ok := g.Value.(float32); !ok || math.Float32bits(gf) != math.Float32bits(f) {
				t.Errorf("KV %d: %+v, want %+v", i, g, w)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("KV %d: %#v, want %#v", i, g, w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, fx := range fixture.Fixtures() {
		t.Run(fx.Name, func(t *testing.T) {
			path := filepath.Join(dir, fx.Name)
			if err := gguf.Write(context.Background(), path, fx.KVs, fx.Tensors); err != nil {
				t.Fatal(err)
			}
			first, _ := os.ReadFile(path)
			if err := gguf.Write(context.Background(), path, fx.KVs, fx.Tensors); err != nil {
				t.Fatal(err)
			}
			second, _ := os.ReadFile(path)
			if !bytes.Equal(first, second) {
				t.Fatal("writing twice gave different bytes")
			}
			golden, err := os.ReadFile(filepath.Join("testdata", fx.Name))
			if err != nil || !bytes.Equal(golden, first) {
				t.Errorf("output differs from testdata/%s (regenerate with go run testdata/gen.go): %v", fx.Name, err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sameKVs(t, f.KVs(), fx.KVs)
			if len(f.Tensors()) != len(fx.Tensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors()), len(fx.Tensors))
			}
			for i, want := range fx.Tensors {
				got := f.Tensors()[i]
				if got.Name != want.Name || got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) {
					t.Errorf("tensor %d: %+v, want %s %v %v", i, got, want.Name, want.DType, want.Shape)
				}
				if got.Offset%int64(f.Alignment()) != 0 || got.File != path {
					t.Errorf("tensor %q: offset %d file %q", got.Name, got.Offset, got.File)
				}
				view, err := f.View(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				wantBytes := tensorBytes(t, want)
				if !bytes.Equal(view, wantBytes) {
					t.Errorf("tensor %q: view differs", want.Name)
				}
				sr, err := f.TensorReader(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(sr)
				if !bytes.Equal(b, wantBytes) {
					t.Errorf("tensor %q: reader differs", want.Name)
				}
				gi := f.TensorInfos()[i]
				for j := range gi.NE {
					if gi.NE[j] != got.Shape[len(got.Shape)-1-j] {
						t.Errorf("tensor %q: ne %v is not shape %v reversed", got.Name, gi.NE, got.Shape)
					}
				}
			}
			// The registry finds the format and opens it with this package.
			r, err := formats.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != "gguf" || len(r.Tensors()) != len(fx.Tensors) || len(r.Metadata()) != len(fx.KVs) {
				t.Errorf("formats.Open: %s, %d tensors, %d keys", r.Format(), len(r.Tensors()), len(r.Metadata()))
			}
			if _, ok := r.(formats.Viewer); !ok {
				t.Error("not a formats.Viewer")
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	f, err := gguf.Open("testdata/allkv.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, ok := f.String("general.architecture"); !ok || s != "llama" {
		t.Errorf("String = %q, %v", s, ok)
	}
	if v, ok := f.Uint("t.u32"); !ok || v != 4000000000 {
		t.Errorf("Uint = %d, %v", v, ok)
	}
	if _, ok := f.Uint("t.i32"); ok {
		t.Error("Uint of a negative int32 succeeded")
	}
	if v, ok := f.Int("t.i64"); !ok || v != math.MinInt64 {
		t.Errorf("Int = %d, %v", v, ok)
	}
	if _, ok := f.Int("t.u64"); ok {
		t.Error("Int of MaxUint64 succeeded")
	}
	if v, ok := f.Float("t.f32"); !ok || float32(v) != 3.1415927 {
		t.Errorf("Float = %v, %v", v, ok)
	}
	if v, ok := f.Bool("t.bool"); !ok || !v {
		t.Errorf("Bool = %v, %v", v, ok)
	}
	if v, ok := f.Strings("t.arr.str"); !ok || len(v) != 3 || v[2] != "▁the" {
		t.Errorf("Strings = %q, %v", v, ok)
	}
	kv, _ := f.Get("t.arr.i32")
	if _, ok := kv.Value.([]int32); !ok {
		t.Errorf("int32 array is %T", kv.Value)
	}
	if e, ok := kv.Elem(); !ok || e != gguf.TypeInt32 || kv.Len() != 3 {
		t.Errorf("Elem = %v %v, Len %d", e, ok, kv.Len())
	}
	kv, _ = f.Get("t.arr.nested")
	if e, _ := kv.Elem(); e != gguf.TypeArray {
		t.Errorf("nested Elem = %v", e)
	}
	if _, ok := f.Get("missing"); ok {
		t.Error("missing key found")
	}
	if _, err := f.View("missing"); !errors.Is(err, gguf.ErrNotFound) {
		t.Errorf("View(missing) = %v", err)
	}
}

func TestReaderWithoutMmap(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), gguf.WithName("mem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.View("token_embd.weight"); !errors.Is(err, gguf.ErrUnsupported) {
		t.Errorf("View without mapping: %v", err)
	}
	sr, err := f.TensorReader("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(sr)
	if want := tensorBytes(t, fixture.Fixtures()[0].Tensors[0]); !bytes.Equal(got, want) {
		t.Error("tensor bytes differ")
	}
}

type failingData struct{ n int }

func (d failingData) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(make([]byte, d.n))
	return int64(n), err
}

func TestWriteDeferred(t *testing.T) {
	dir := t.TempDir()
	fx := fixture.Fixtures()[0]
	kvs := append(slices.Clone(fx.KVs), gguf.String("x.hash", strings.Repeat("0", 64)))
	final := append(slices.Clone(fx.KVs), gguf.String("x.hash", strings.Repeat("ab", 32)))
	path := filepath.Join(dir, "deferred.gguf")
	if err := gguf.WriteDeferred(context.Background(), path, kvs, fx.Tensors, func() ([]gguf.KV, error) { return final, nil }); err != nil {
		t.Fatal(err)
	}
	direct := filepath.Join(dir, "direct.gguf")
	if err := gguf.Write(context.Background(), direct, final, fx.Tensors); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(direct)
	if !bytes.Equal(a, b) {
		t.Fatal("a deferred header differs from writing the final KVs at once")
	}
	// A final header of another size, or an error from final, fails the
	// write and leaves nothing behind.
	bad := filepath.Join(dir, "bad.gguf")
	longer := append(slices.Clone(fx.KVs), gguf.String("x.hash", strings.Repeat("0", 64+gguf.DefaultAlignment)))
	if err := gguf.WriteDeferred(context.Background(), bad, kvs, fx.Tensors, func() ([]gguf.KV, error) { return longer, nil }); err == nil || !strings.Contains(err.Error(), "header bytes") {
		t.Fatalf("size change: %v", err)
	}
	if err := gguf.WriteDeferred(context.Background(), bad, kvs, fx.Tensors, func() ([]gguf.KV, error) { return nil, io.ErrUnexpectedEOF }); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("final error: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a failed deferred write left the target")
	}
	if left, _ := atomicfile.Leftovers(dir); len(left) != 0 {
		t.Fatalf("leftovers %v", left)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	fx := fixture.Fixtures()[0]
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("%s: target changed", what)
		}
		if left, _ := atomicfile.Leftovers(dir); len(left) != 0 {
			t.Errorf("%s: leftovers %v", what, left)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := gguf.Write(ctx, path, fx.KVs, fx.Tensors)
	check("cancelled", err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel error %v", err)
	}
	bad := append([]formats.Tensor(nil), fx.Tensors...)
	bad[1].Data = failingData{n: 10}
	err = gguf.Write(context.Background(), path, fx.KVs, bad)
	check("short data", err)
	if !strings.Contains(err.Error(), `tensor "blk.0.attn_q.weight": data wrote 10 bytes`) {
		t.Errorf("short data error: %v", err)
	}
	check("duplicate key", gguf.Write(context.Background(), path, []gguf.KV{gguf.Uint32("a", 1), gguf.Uint32("a", 2)}, nil))
	check("type mismatch", gguf.Write(context.Background(), path, []gguf.KV{{Key: "a", Type: gguf.TypeUint32, Value: int32(1)}}, nil))
	check("bad alignment", gguf.Write(context.Background(), path, []gguf.KV{gguf.Uint32(gguf.KeyAlignment, 48)}, nil))
	check("no ggml type", gguf.Write(context.Background(), path, nil, []formats.Tensor{{Name: "x", DType: formats.U8, Shape: []int64{1}, Data: formats.BytesData{1}}}))
	check("duplicate tensor", gguf.Write(context.Background(), path, nil, []formats.Tensor{fx.Tensors[0], fx.Tensors[0]}))
	check("five dims", gguf.Write(context.Background(), path, nil, []formats.Tensor{{Name: "x", DType: formats.I8, Shape: []int64{1, 1, 1, 1, 1}, Data: formats.BytesData{1}}}))
}

func TestSplitRoundTrip(t *testing.T) {
	dir := t.TempDir()
	fx := fixture.Fixtures()[0]
	paths, err := gguf.WriteSplit(context.Background(), filepath.Join(dir, "m.gguf"), fx.KVs, fx.Tensors, gguf.SplitOptions{MaxTensors: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || filepath.Base(paths[1]) != "m-00002-of-00002.gguf" {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Splits() != 2 || len(f.Tensors()) != 4 {
			t.Errorf("%s: %d splits, %d tensors", p, f.Splits(), len(f.Tensors()))
		}
		if s, _ := f.String("general.architecture"); s != "llama" {
			t.Errorf("%s: metadata of the first split missing", p)
		}
		for _, want := range fx.Tensors {
			v, err := f.View(want.Name)
			if err != nil || !bytes.Equal(v, tensorBytes(t, want)) {
				t.Errorf("%s: tensor %q differs (%v)", p, want.Name, err)
			}
		}
		if got := f.Files(); len(got) != 2 || got[0] != paths[0] {
			t.Errorf("files %v", got)
		}
		f.Close()
	}
	// Cancelled: no split appears, no temporary file stays.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := gguf.WriteSplit(ctx, filepath.Join(dir, "c"), fx.KVs, fx.Tensors, gguf.SplitOptions{MaxTensors: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled split: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "c-*")); len(m) != 0 {
		t.Errorf("cancelled split left %v", m)
	}
	if left, _ := atomicfile.Leftovers(dir); len(left) != 0 {
		t.Errorf("leftovers %v", left)
	}
	// The committed fixture, made by the generator, opens the same way.
	f, err := gguf.Open("testdata/split-00002-of-00002.gguf")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	os.Remove(paths[1])
	_, err = gguf.Open(paths[0])
	if !errors.Is(err, gguf.ErrNotFound) || !strings.Contains(err.Error(), "split 2 of 2 is missing") {
		t.Errorf("missing split: %v", err)
	}

	// A split file whose split.tensors.count disagrees.
	kvs := append([]gguf.KV(nil), fx.KVs...)
	one := filepath.Join(dir, "x-00001-of-00001.gguf")
	kvs = append(kvs, gguf.Uint16(gguf.KeySplitNo, 0), gguf.Int32(gguf.KeySplitTensorsCount, 9), gguf.Uint16(gguf.KeySplitCount, 2))
	if err := gguf.Write(context.Background(), one, kvs, fx.Tensors); err != nil {
		t.Fatal(err)
	}
	if _, err := gguf.Open(one); err == nil || !strings.Contains(err.Error(), "the name says 1 splits but split.count is 2") {
		t.Errorf("count mismatch: %v", err)
	}
}

// TestWriteSplitDeferred checks that the final KVs land in the first
// split's header and that gguf-py's one-split case writes PREFIX.gguf.
func TestWriteSplitDeferred(t *testing.T) {
	dir := t.TempDir()
	fx := fixture.Fixtures()[0]
	kvs := append(slices.Clone(fx.KVs), gguf.String("x.hash", "0000"))
	final := func() ([]gguf.KV, error) {
		return append(slices.Clone(fx.KVs), gguf.String("x.hash", "abcd")), nil
	}
	opt := gguf.SplitOptions{MaxTensors: 3, GGUFPy: true, QuantizeKeyOrder: true}
	paths, err := gguf.WriteSplitDeferred(context.Background(), filepath.Join(dir, "m.gguf"), kvs, fx.Tensors, opt, final)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.String("x.hash"); s != "abcd" || f.Splits() != 2 {
		t.Errorf("x.hash = %q, %d splits", s, f.Splits())
	}
	f.Close()
	opt.MaxTensors = 100
	paths, err = gguf.WriteSplitDeferred(context.Background(), filepath.Join(dir, "one.gguf"), kvs, fx.Tensors, opt, final)
	if err != nil || len(paths) != 1 || filepath.Base(paths[0]) != "one.gguf" {
		t.Fatalf("one split: %v, %v", paths, err)
	}
	bad := func() ([]gguf.KV, error) { return append(slices.Clone(fx.KVs), gguf.String("x.hash", "abcdef")), nil }
	opt.MaxTensors = 3
	if _, err := gguf.WriteSplitDeferred(context.Background(), filepath.Join(dir, "bad.gguf"), kvs, fx.Tensors, opt, bad); !errors.Is(err, gguf.ErrCorrupt) {
		t.Errorf("longer final metadata: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "bad*")); len(m) != 0 {
		t.Errorf("failed split left %v", m)
	}
}

func TestSplitPlan(t *testing.T) {
	ts := func(sizes ...int) []formats.Tensor {
		var out []formats.Tensor
		for i, s := range sizes {
			out = append(out, formats.Tensor{Name: string(rune('a' + i)), DType: formats.I8, Shape: []int64{int64(s)}})
		}
		return out
	}
	cases := []struct {
		name string
		in   []formats.Tensor
		opt  gguf.SplitOptions
		want [][]int
		err  string
	}{
		{"by tensors", ts(1, 1, 1, 1, 1), gguf.SplitOptions{MaxTensors: 2}, [][]int{{0, 1}, {2, 3}, {4}}, ""},
		{"default 128", ts(1, 1, 1), gguf.SplitOptions{}, [][]int{{0, 1, 2}}, ""},
		{"no tensor first split", ts(1, 1, 1), gguf.SplitOptions{MaxTensors: 2, NoTensorFirstSplit: true}, [][]int{{}, {0, 1}, {2}}, ""},
		// sizes are padded to 32: 40 -> 64, 10 -> 32
		{"by size", ts(40, 10, 10, 64), gguf.SplitOptions{MaxBytes: 100}, [][]int{{0, 1}, {2, 3}}, ""},
		{"by size exact", ts(32, 32, 32), gguf.SplitOptions{MaxBytes: 64}, [][]int{{0, 1}, {2}}, ""},
		{"tensor larger than split", ts(10, 200), gguf.SplitOptions{MaxBytes: 100}, [][]int{{0}, {1}}, ""},
		{"first tensor larger than split", ts(200), gguf.SplitOptions{MaxBytes: 100}, nil, "would hold no tensors"},
		{"assigned", ts(1, 1, 1, 1), gguf.SplitOptions{Assign: []int{0, 1, 1, 2}}, [][]int{{0}, {1, 2}, {3}}, ""},
		{"assigned, empty first", ts(1, 1), gguf.SplitOptions{Assign: []int{1, 1}}, [][]int{{}, {0, 1}}, ""},
		{"assigned, empty middle", ts(1, 1), gguf.SplitOptions{Assign: []int{0, 2}}, nil, "would hold no tensors"},
		{"assigned, out of order", ts(1, 1, 1), gguf.SplitOptions{Assign: []int{0, 1, 0}}, nil, "out of order"},
		{"assigned, wrong count", ts(1, 1), gguf.SplitOptions{Assign: []int{0}}, nil, "split indices"},
		// gguf-py's GGUFWriter: unpadded sizes, both limits, no failure
		{"gguf-py by size", ts(40, 10, 10, 64), gguf.SplitOptions{GGUFPy: true, MaxBytes: 60}, [][]int{{0, 1, 2}, {3}}, ""},
		{"gguf-py larger than split", ts(200, 10), gguf.SplitOptions{GGUFPy: true, MaxBytes: 100}, [][]int{{0}, {1}}, ""},
		{"gguf-py both limits", ts(1, 1, 1, 50, 60), gguf.SplitOptions{GGUFPy: true, MaxTensors: 2, MaxBytes: 100}, [][]int{{0, 1}, {2, 3}, {4}}, ""},
		{"gguf-py no limit", ts(1, 1, 1), gguf.SplitOptions{GGUFPy: true}, [][]int{{0, 1, 2}}, ""},
		{"gguf-py first split alone", ts(1, 1), gguf.SplitOptions{GGUFPy: true, NoTensorFirstSplit: true}, [][]int{{}, {0, 1}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := gguf.SplitPlan(c.in, c.opt)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestEdit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.gguf")
	fx := fixture.Fixtures()[0]
	if err := gguf.Write(context.Background(), path, fx.KVs, fx.Tensors); err != nil {
		t.Fatal(err)
	}
	tmpl := strings.Repeat("{{ m.content }}", 40)
	err := gguf.Edit(path, []gguf.KV{gguf.Uint32("llama.block_count", 2), gguf.String("tokenizer.chat_template", tmpl)}, []string{"general.architecture"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []gguf.KV{gguf.Uint32("llama.block_count", 2), gguf.String("tokenizer.chat_template", tmpl)}
	sameKVs(t, f.KVs(), want)
	for _, tn := range fx.Tensors {
		v, err := f.View(tn.Name)
		if err != nil || !bytes.Equal(v, tensorBytes(t, tn)) {
			t.Errorf("tensor %q changed (%v)", tn.Name, err)
		}
	}
	f.Close()
	if left, _ := atomicfile.Leftovers(dir); len(left) != 0 {
		t.Errorf("leftovers %v", left)
	}
	before, _ := os.ReadFile(path)
	for _, c := range []struct {
		name string
		set  []gguf.KV
		del  []string
		want string
	}{
		{"missing key", nil, []string{"nope"}, `cannot delete key "nope"`},
		{"misaligning alignment", []gguf.KV{gguf.Uint32(gguf.KeyAlignment, 64)}, nil, "not a multiple of the new alignment 64"},
		{"bad alignment", []gguf.KV{gguf.Uint32(gguf.KeyAlignment, 5)}, nil, "not a power of two"},
		{"type mismatch", []gguf.KV{{Key: "x", Type: gguf.TypeString, Value: 3}}, nil, "does not match type string"},
	} {
		if err := gguf.Edit(path, c.set, c.del); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("failed edits changed the file")
	}
	// Alignment 16 keeps every offset aligned (they are multiples of 32).
	if err := gguf.Edit(path, []gguf.KV{gguf.Uint32(gguf.KeyAlignment, 16)}, nil); err != nil {
		t.Fatal(err)
	}
	f, err = gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment() != 16 || f.DataOffset()%16 != 0 {
		t.Errorf("alignment %d data offset %d", f.Alignment(), f.DataOffset())
	}
}

func TestParseOverride(t *testing.T) {
	cases := []struct {
		in   string
		want gguf.KV
		err  string
	}{
		{"llama.context_length=int:4096", gguf.Uint32("llama.context_length", 4096), ""},
		{"a=int:-5", gguf.Uint32("a", 5), ""},
		{"a=float:0.5", gguf.Float32("a", 0.5), ""},
		{"a=float:1e-5", gguf.Float32("a", 1e-5), ""},
		{"a=bool:true", gguf.Bool("a", true), ""},
		{"a=bool:false", gguf.Bool("a", false), ""},
		{"tokenizer.chat_template=str:{{ x }}=y:z", gguf.String("tokenizer.chat_template", "{{ x }}=y:z"), ""},
		{"a=str:", gguf.String("a", ""), ""},
		{"a=bool:yes", gguf.KV{}, "true or false"},
		{"a=int:12abc", gguf.KV{}, "not an integer"},
		{"a=int:5000000000", gguf.KV{}, "does not fit the uint32"},
		{"a=float:x", gguf.KV{}, "not a number"},
		{"a=u32:1", gguf.KV{}, `unknown type "u32"`},
		{"a=1", gguf.KV{}, "unknown type"},
		{"noequals", gguf.KV{}, "want KEY=TYPE:VALUE"},
		{"=int:1", gguf.KV{}, "empty key"},
		{strings.Repeat("k", 128) + "=int:1", gguf.KV{}, "at most 127"},
	}
	for _, c := range cases {
		got, err := gguf.ParseOverride(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestKVJSONRoundTrip(t *testing.T) {
	for _, kv := range fixture.AllTypesKVs() {
		b, err := kv.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back gguf.KV
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		sameKVs(t, []gguf.KV{back}, []gguf.KV{kv})
	}
}

func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.gguf")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nestedArray(3).bytes())
	f.Add(newHB(3, 2, 0).ti("a", 0, 0, 16).ti("b", 0, 64, 16).data(128).bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, gguf.ErrCorrupt) && !errors.Is(err, gguf.ErrUnsupported) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		for _, ti := range r.Tensors() {
			if ti.Offset < 0 || ti.Size < 0 || ti.Offset+ti.Size > int64(len(b)) {
				t.Fatalf("tensor %q out of bounds: %+v", ti.Name, ti)
			}
			if r.BigEndian() {
				continue
			}
			sr, err := r.TensorReader(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, sr); err != nil || n != ti.Size {
				t.Fatalf("tensor %q: read %d of %d: %v", ti.Name, n, ti.Size, err)
			}
		}
		// Whatever parses re-encodes (little-endian, v3) and parses again to
		// the same KVs.
		if r.BigEndian() {
			return
		}
		var ts []formats.Tensor
		for _, ti := range r.Tensors() {
			sr, _ := r.TensorReader(ti.Name)
			ts = append(ts, formats.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: formats.SectionData{R: sr}})
		}
		var buf bytes.Buffer
		if _, err := gguf.WriteTo(context.Background(), &buf, r.KVs(), ts); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := gguf.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(r2.KVs()) != len(r.KVs()) || len(r2.Tensors()) != len(r.Tensors()) {
			t.Fatal("re-read differs")
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	// A header like a real model's: a 128k-token vocabulary and 300 tensors.
	toks := make([]string, 128000)
	scores := make([]float32, len(toks))
	for i := range toks {
		toks[i] = "tok" + strings.Repeat("x", i%13)
		scores[i] = float32(i)
	}
	kvs := []gguf.KV{gguf.String("general.architecture", "llama"), gguf.Strings("tokenizer.ggml.tokens", toks),
		{Key: "tokenizer.ggml.scores", Type: gguf.TypeArray, Value: scores}}
	var ts []formats.Tensor
	for i := range 300 {
		ts = append(ts, formats.Tensor{Name: "blk." + strings.Repeat("1", i%5) + ".w" + string(rune('a'+i%26)) + strings.Repeat("z", i/26),
			DType: formats.Q4_0, Shape: []int64{4, 64}, Data: formats.BytesData(make([]byte, 4*2*18))})
	}
	var buf bytes.Buffer
	if _, err := gguf.WriteTo(context.Background(), &buf, kvs, ts); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gguf.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEditInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.gguf")
	fx := fixture.Fixtures()[0]
	kvs := append([]gguf.KV{gguf.String("general.name", "aaaa")}, fx.KVs...)
	if err := gguf.Write(context.Background(), path, kvs, fx.Tensors); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	st0, _ := os.Stat(path)
	// Same length value: the header keeps its size, the file is edited in place.
	inPlace, err := gguf.EditInPlace(path, []gguf.KV{gguf.String("general.name", "bbbb")}, nil)
	if err != nil || !inPlace {
		t.Fatalf("in place %v, %v", inPlace, err)
	}
	after, _ := os.ReadFile(path)
	if len(after) != len(before) || bytes.Equal(after, before) {
		t.Fatal("file not changed in place")
	}
	if !bytes.Equal(after[len(after)-200:], before[len(before)-200:]) {
		t.Error("tensor data changed")
	}
	st1, _ := os.Stat(path)
	if !os.SameFile(st0, st1) {
		t.Error("in-place edit replaced the file")
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.String("general.name"); s != "bbbb" {
		t.Errorf("name %q", s)
	}
	f.Close()
	if _, err := os.Stat(gguf.JournalPath(path)); !os.IsNotExist(err) {
		t.Error("journal left behind")
	}
	// A longer header does not fit: atomic rewrite.
	inPlace, err = gguf.EditInPlace(path, []gguf.KV{gguf.String("general.name", strings.Repeat("c", 100))}, nil)
	if err != nil || inPlace {
		t.Fatalf("in place %v, %v", inPlace, err)
	}

	// A crash between journal and header: Recover restores the old header.
	good, _ := os.ReadFile(path)
	hdr := int(func() int64 { f, _ := gguf.Open(path); defer f.Close(); return f.DataOffset() }())
	journal := append([]byte("MLMFGGUFJOURNAL1"), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(journal[16:], uint64(hdr))
	journal = append(journal, good[:hdr]...)
	os.WriteFile(gguf.JournalPath(path), journal, 0o644)
	torn := append([]byte(nil), good...)
	copy(torn[10:40], bytes.Repeat([]byte{0xee}, 30))
	os.WriteFile(path, torn, 0o644)
	if _, err := gguf.Open(path); err == nil {
		t.Fatal("torn header opened")
	}
	if ok, err := gguf.Recover(path); !ok || err != nil {
		t.Fatalf("recover %v %v", ok, err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
		t.Error("recover did not restore the header")
	}
	if ok, err := gguf.Recover(path); ok || err != nil {
		t.Errorf("second recover %v %v", ok, err)
	}
	// A damaged journal is refused, and Edit will not run over it.
	os.WriteFile(gguf.JournalPath(path), []byte("junk"), 0o644)
	if err := gguf.Edit(path, nil, nil); err == nil || !strings.Contains(err.Error(), "journal") {
		t.Errorf("edit with damaged journal: %v", err)
	}
}

func TestParseSplitSize(t *testing.T) {
	for in, want := range map[string]int64{"128M": 128e6, "4G": 4e9, "1M": 1e6} {
		if got, err := gguf.ParseSplitSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "4", "4K", "0M", "-1G", "xM", "1.5G"} {
		if _, err := gguf.ParseSplitSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFormatAndBPW(t *testing.T) {
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = fmt.Sprint("t", i)
	}
	cases := []struct {
		kv   gguf.KV
		want string
	}{
		{gguf.Strings("tokens", toks), `["t0", "t1", "t2", … (1000 × string)]`},
		{gguf.String("tmpl", "héllo wörld"), `"hé"… (13 bytes)`},
		{gguf.Float32("eps", 1e-5), `1e-05`},
		{gguf.Uint32("n", 7), `7`},
		{gguf.KV{Key: "nest", Type: gguf.TypeArray, Value: []any{[]int32{1, 2, 3, 4}, []bool{true}}}, `[[1, 2, 3, … (4 × int32)], [true]]`},
	}
	for _, c := range cases {
		if got := c.kv.Format(3, 3); got != c.want {
			t.Errorf("%s: %s, want %s", c.kv.Key, got, c.want)
		}
	}
	f, err := gguf.Open("testdata/tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// F32 2x8 (512 bits), Q4_0 2x32 (2 blocks of 18 bytes: 288 bits), I8 5 (40 bits), empty F16: 840 bits / 85 elements.
	if got, want := f.BitsPerWeight(), 840.0/85; math.Abs(got-want) > 1e-12 {
		t.Errorf("bpw %v, want %v", got, want)
	}
}
