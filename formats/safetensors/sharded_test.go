package safetensors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
)

func TestSplitShardsLikeHuggingFaceHub(t *testing.T) {
	for _, c := range []struct {
		sizes []int64
		max   int64
		want  [][]int
	}{
		// The example of split_state_dict_into_shards_factory's docstring.
		{[]int64{6, 6, 2, 6, 2, 2}, 10, [][]int{{0}, {1, 2}, {3, 4, 5}}},
		// A tensor over the limit gets its own shard where it is met; the
		// shard being filled carries on after it.
		{[]int64{2, 2, 10, 2}, 5, [][]int{{2}, {0, 1}, {3}}},
		{[]int64{2, 2, 10, 2, 2}, 4, [][]int{{2}, {0, 1}, {3, 4}}},
		{[]int64{5, 5}, 5, [][]int{{0}, {1}}},
		{[]int64{0, 0, 5, 0}, 5, [][]int{{0, 1, 2, 3}}},
		{[]int64{1, 2, 3}, 100, [][]int{{0, 1, 2}}},
		{nil, 100, nil},
	} {
		got := splitShards(c.sizes, c.max)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("splitShards(%v, %d) = %v, want %v", c.sizes, c.max, got, c.want)
		}
	}
}

func shardTensors(n int) []formats.Tensor {
	var ts []formats.Tensor
	for i := range n {
		ts = append(ts, formats.Tensor{Name: fmt.Sprintf("model.layers.%d.weight", i), DType: formats.F32,
			Shape: []int64{int64(i%5 + 1), 4}, Data: formats.BytesData(pattern(int64(i%5+1)*16, i))})
	}
	return ts
}

func TestShardedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ts := append(shardTensors(20), sampleTensors(t)...)
	meta := map[string]string{"format": "pt", "mlmf.version": "test"}
	paths, err := WriteSharded(context.Background(), dir, ts, meta, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 || filepath.Base(paths[len(paths)-1]) != DefaultIndex {
		t.Fatalf("paths %v", paths)
	}
	n := len(paths) - 1
	for i, p := range paths[:n] {
		if want := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n); filepath.Base(p) != want {
			t.Errorf("shard %d named %s, want %s", i, filepath.Base(p), want)
		}
	}
	var index struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	raw, err := os.ReadFile(paths[n])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.WeightMap) != len(ts) {
		t.Errorf("weight_map has %d tensors, want %d", len(index.WeightMap), len(ts))
	}

	for _, open := range []string{dir, paths[n]} {
		s, err := OpenSharded(open)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, s, ts)
		if !slices.Equal(s.Files(), paths[:n]) {
			t.Errorf("Files() = %v, want %v", s.Files(), paths[:n])
		}
		md := s.Metadata()
		var total int64
		for _, tt := range ts {
			sz, _ := tt.DType.ByteSize(tt.Shape)
			total += sz
		}
		if md["format"] != "pt" || md["mlmf.version"] != "test" || md["total_size"] != total {
			t.Errorf("Metadata() = %v (total %d)", md, total)
		}
		s.Close()

		r, err := formats.Open(open)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.(formats.Files); !ok {
			t.Errorf("formats.Open(%s) returned %T, want a sharded reader", open, r)
		}
		r.Close()
	}

	// Writing again, unsharded, replaces the shards and the index.
	paths2, err := WriteSharded(context.Background(), dir, ts[:3], meta, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths2) != 1 || filepath.Base(paths2[0]) != "model.safetensors" {
		t.Fatalf("paths %v", paths2)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("stale files left: %v", ents)
	}
	r, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, r, ts[:3])
	r.Close()
}

func TestWriterInterface(t *testing.T) {
	dir := t.TempDir()
	ts := shardTensors(10)
	w := Writer{MaxShardSize: 64}
	if err := w.Write(context.Background(), filepath.Join(dir, "out.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSharded(filepath.Join(dir, "out.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, s, ts)
	s.Close()
	if err := (Writer{}).Write(context.Background(), filepath.Join(dir, "one.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, "one.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, f, ts)
	f.Close()
}

func TestWriteShardedCancel(t *testing.T) {
	dir := t.TempDir()
	ts := shardTensors(10)
	if _, err := WriteSharded(context.Background(), dir, ts, nil, 64); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	ts2 := slices.Clone(ts)
	ts2[7].Data = cancelAfter{ts2[7].Data.(formats.BytesData), cancel}
	ts2[0].Data = formats.BytesData(pattern(16, 1000)) // different contents
	if _, err := WriteSharded(ctx, dir, ts2, nil, 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if after := snapshot(t, dir); !maps2Equal(before, after) {
		t.Error("cancelled WriteSharded changed the directory")
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(b)
	}
	return out
}

func maps2Equal(a, b map[string]string) bool { return mapsEqual(a, b) }

// shardFixture writes two valid shards and returns the directory.
func shardFixture(t *testing.T) string {
	dir := t.TempDir()
	ctx := context.Background()
	u8 := func(name string) formats.Tensor {
		return formats.Tensor{Name: name, DType: formats.U8, Shape: []int64{4}, Data: formats.BytesData{1, 2, 3, 4}}
	}
	if err := WriteFile(ctx, filepath.Join(dir, "a.safetensors"), []formats.Tensor{u8("x"), u8("y")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, filepath.Join(dir, "b.safetensors"), []formats.Tensor{u8("z"), u8("y2")}, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

const goodMap = `"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors","y2":"b.safetensors"`

func TestBadSharded(t *testing.T) {
	for _, c := range []struct {
		name, index string
		want        string
		notFound    bool
	}{
		{"missing shard", `{"weight_map":{` + goodMap + `,"w":"c.safetensors"}}`, `c.safetensors, named in weight_map for tensor "w", is missing`, true},
		{"tensor its shard lacks", `{"weight_map":{` + goodMap + `,"w":"a.safetensors"}}`, `tensor "w": weight_map puts it in shard`, false},
		{"extra tensor", `{"weight_map":{"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"}}`, `tensor "y2": in shard`, false},
		{"tensor in the wrong shard", `{"weight_map":{"x":"a.safetensors","y":"b.safetensors","z":"b.safetensors","y2":"b.safetensors"}}`, `tensor "y": in shard`, false},
		{"bad total_size", `{"metadata":{"total_size":15},"weight_map":{` + goodMap + `}}`, "metadata.total_size is 15, but the shards' tensors hold 16 bytes", false},
		{"negative total_size", `{"metadata":{"total_size":-16},"weight_map":{` + goodMap + `}}`, "not a byte count", false},
		{"string total_size", `{"metadata":{"total_size":"16"},"weight_map":{` + goodMap + `}}`, "not a byte count", false},
		{"path escape", `{"weight_map":{` + goodMap + `,"w":"../c.safetensors"}}`, `leaves the checkpoint directory`, false},
		{"path escape, backslash", `{"weight_map":{` + goodMap + `,"w":"sub\\..\\..\\c.safetensors"}}`, `leaves the checkpoint directory`, false},
		{"absolute path", `{"weight_map":{` + goodMap + `,"w":"/etc/c.safetensors"}}`, `absolute path`, false},
		{"drive letter", `{"weight_map":{` + goodMap + `,"w":"C:c.safetensors"}}`, `drive letter`, false},
		{"pickle shard", `{"weight_map":{` + goodMap + `,"w":"pytorch_model.bin"}}`, `does not end in .safetensors`, false},
		{"weight_map key twice", `{"weight_map":{` + goodMap + `,"x":"a.safetensors"}}`, `tensor "x": listed twice`, false},
		{"no weight_map", `{"metadata":{}}`, "no weight_map", false},
		{"weight_map not an object", `{"weight_map":[]}`, "weight_map must be an object", false},
		{"shard not a string", `{"weight_map":{"x":1}}`, "shard must be a file name string", false},
		{"metadata not an object", `{"metadata":[],"weight_map":{` + goodMap + `}}`, "metadata must be a JSON object", false},
		{"invalid JSON", `{"weight_map":{` + goodMap, "expected ',' or '}', found the end of the text", false},
		{"not JSON", "\x00\x01", "invalid index JSON", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := shardFixture(t)
			index := filepath.Join(dir, DefaultIndex)
			if err := os.WriteFile(index, []byte(c.index), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := OpenSharded(dir)
			if err == nil {
				s.Close()
				t.Fatalf("accepted; want %q", c.want)
			}
			sentinel := formats.ErrCorrupt
			if c.notFound {
				sentinel = formats.ErrNotFound
			}
			msg := err.Error()
			if !errors.Is(err, sentinel) || !strings.Contains(msg, c.want) || !strings.Contains(msg, index) {
				t.Errorf("error %q: want it to wrap %v, name %s and contain %q", msg, sentinel, index, c.want)
			}
		})
	}

	t.Run("duplicate across shards", func(t *testing.T) {
		dir := shardFixture(t)
		u8 := formats.Tensor{Name: "x", DType: formats.U8, Shape: []int64{1}, Data: formats.BytesData{1}}
		if err := WriteFile(context.Background(), filepath.Join(dir, "c.safetensors"), []formats.Tensor{u8}, nil); err != nil {
			t.Fatal(err)
		}
		index := `{"weight_map":{` + goodMap + `,"w":"c.safetensors"}}`
		if err := os.WriteFile(filepath.Join(dir, DefaultIndex), []byte(index), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenSharded(dir)
		if err == nil || !errors.Is(err, formats.ErrCorrupt) ||
			!strings.Contains(err.Error(), `tensor "x": in two shards, `+filepath.Join(dir, "a.safetensors")+" and "+filepath.Join(dir, "c.safetensors")) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("corrupt shard", func(t *testing.T) {
		dir := shardFixture(t)
		os.WriteFile(filepath.Join(dir, "b.safetensors"), []byte("garbage!!"), 0o644)
		os.WriteFile(filepath.Join(dir, DefaultIndex), []byte(`{"weight_map":{`+goodMap+`}}`), 0o644)
		_, err := OpenSharded(dir)
		if err == nil || !errors.Is(err, formats.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(dir, "b.safetensors")) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("shard spelled two ways", func(t *testing.T) {
		dir := shardFixture(t)
		os.WriteFile(filepath.Join(dir, DefaultIndex), []byte(`{"weight_map":{"x":"./a.safetensors","y":"a.safetensors",`+
			`"z":"b.safetensors","y2":".//b.safetensors"}}`), 0o644)
		s, err := OpenSharded(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(s.Files()) != 2 || len(s.Tensors()) != 4 {
			t.Errorf("files %v, %d tensors", s.Files(), len(s.Tensors()))
		}
	})

	t.Run("valid fixture", func(t *testing.T) {
		dir := shardFixture(t)
		os.WriteFile(filepath.Join(dir, "weights.safetensors.index.json"),
			[]byte(`{"metadata":{"total_size":16.0,"note":[1,{"a":2}]},"weight_map":{`+goodMap+`},"extra":true}`), 0o644)
		s, err := OpenSharded(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(s.Tensors()) != 4 || s.Metadata()["total_size"] != float64(16) {
			t.Errorf("tensors %d metadata %v", len(s.Tensors()), s.Metadata())
		}
	})
}

func TestOpenPath(t *testing.T) {
	dir := shardFixture(t)
	// Two files, no index: ambiguous.
	if _, err := OpenPath(dir); err == nil || !strings.Contains(err.Error(), "2 .safetensors files") {
		t.Errorf("two files, no index: %v", err)
	}
	os.Remove(filepath.Join(dir, "b.safetensors"))
	r, err := OpenPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*File); !ok || len(r.Tensors()) != 2 {
		t.Errorf("one file: got %T with %d tensors", r, len(r.Tensors()))
	}
	r.Close()
	empty := t.TempDir()
	if _, err := OpenPath(empty); !errors.Is(err, formats.ErrNotFound) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := OpenPath(filepath.Join(empty, "nope.safetensors")); !errors.Is(err, formats.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if IsDir(empty) || !IsDir(dir) {
		t.Error("IsDir wrong")
	}
	// An index under another name opens through formats.Open by sniffing.
	dir = shardFixture(t)
	idx := filepath.Join(dir, "weights.idx")
	os.WriteFile(idx, []byte("{\n  \"metadata\": {\"total_size\": 16},\n  \"weight_map\": {"+goodMap+"}}\n"), 0o644)
	r, err = formats.Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tensors()) != 4 {
		t.Errorf("%d tensors", len(r.Tensors()))
	}
	r.Close()
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		want bool
	}{
		{string(build(`{"a":1}`, 0)), true},
		{string(build(`  {"a":1}`, 0)), true},
		{string(build(`{}`, 0)), true},
		{string(withLen(100_000_001, "{")), false},
		{string(withLen(5, "[")), false},
		{"GGUF\x03\x00\x00\x00\x00", false},
		{"\x80\x02}q\x00(X\x01\x00\x00", false},
		{"{\n  \"metadata\": {\n    \"total_size\": 1\n  },", true},
		{`{"weight_map":{}}`, true},
		{"{\n  \"architectures\": [\"LlamaForCausalLM\"]", false},
		{"", false},
		{"\x02\x00\x00\x00\x00\x00\x00", false},
	} {
		if got := Sniff([]byte(c.head)); got != c.want {
			t.Errorf("Sniff(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}

// TestOpenHeaderLengthLikePickle: a safetensors file whose header length is
// 640 starts with 0x80 0x02, the bytes of a pickle's PROTO 2 opcode; the
// registry must still recognise it as safetensors.
func TestOpenHeaderLengthLikePickle(t *testing.T) {
	for _, n := range []int{0x280, 0x380, 0x480, 0x580} {
		ts := []formats.Tensor{{Name: "w", DType: formats.U8, Shape: []int64{1}, Data: formats.BytesData{7}}}
		// Pad the metadata until the header is exactly n bytes.
		meta := map[string]string{"pad": ""}
		for {
			p, err := layout(ts, meta)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.header) >= n {
				if len(p.header) != n {
					t.Fatalf("header %d bytes, want %d", len(p.header), n)
				}
				break
			}
			meta["pad"] += strings.Repeat("x", n-len(p.header))
		}
		path := filepath.Join(t.TempDir(), fmt.Sprintf("h%d.bin", n))
		var buf strings.Builder
		if err := Encode(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(buf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := formats.Open(path)
		if err != nil {
			t.Fatalf("header length %#x: %v", n, err)
		}
		if r.Format() != "safetensors" {
			t.Errorf("header length %#x: opened as %s", n, r.Format())
		}
		r.Close()
	}
}
