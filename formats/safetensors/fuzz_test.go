package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
)

// seeds returns the fuzz seed files of testdata/seeds: tiny valid files and
// every malformed file of the bad-input table.
func seeds(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	var buf bytes.Buffer
	if err := Encode(&buf, sampleTensors(t), map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	out["valid-all-dtypes.safetensors"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := Encode(&buf, shardTensors(3), nil); err != nil {
		t.Fatal(err)
	}
	out["valid-small.safetensors"] = bytes.Clone(buf.Bytes())
	out["valid-empty.safetensors"] = build("{}      ", 0)
	for _, c := range badCases() {
		name := "bad-" + strings.NewReplacer(" ", "-", ",", "", "'", "", ":", "").Replace(c.name) + ".safetensors"
		out[name] = c.file
	}
	return out
}

// TestSeedsUpToDate regenerates testdata/seeds with UPDATE_GOLDEN=1 and
// otherwise checks that the committed files match their generator.
func TestSeedsUpToDate(t *testing.T) {
	dir := filepath.Join("testdata", "seeds")
	want := seeds(t)
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run UPDATE_GOLDEN=1 go test ./formats/safetensors/)", err)
	}
	if len(ents) != len(want) {
		t.Errorf("testdata/seeds has %d files, the generator %d (run UPDATE_GOLDEN=1)", len(ents), len(want))
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("testdata/seeds/%s is stale (run UPDATE_GOLDEN=1): %v", name, err)
		}
	}
}

func FuzzHeader(f *testing.F) {
	for _, glob := range []string{"testdata/seeds/*.safetensors", "testdata/reference/*.safetensors"} {
		files, _ := filepath.Glob(glob)
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The index parser must not panic on anything either.
		parseIndex("fuzz.index.json", string(data))

		r, err := NewReader(bytes.NewReader(data), int64(len(data)), WithName("fuzz"))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: fuzz: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		// Accepted: the tensors tile the data buffer, in order.
		next := 8 + r.HeaderLen()
		seen := map[string]bool{}
		var tensors []formats.Tensor
		for _, ti := range r.Tensors() {
			if ti.Offset != next {
				t.Fatalf("tensor %q at %d, want %d", ti.Name, ti.Offset, next)
			}
			size, err := ti.DType.ByteSize(ti.Shape)
			if err != nil || size != ti.Size || !Supported(ti.DType) {
				t.Fatalf("tensor %q: %v %v size %d (%v)", ti.Name, ti.DType, ti.Shape, ti.Size, err)
			}
			if seen[ti.Name] {
				t.Fatalf("tensor %q twice", ti.Name)
			}
			seen[ti.Name] = true
			next += ti.Size
			sr, err := r.TensorReader(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			tensors = append(tensors, formats.Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: formats.SectionData{R: sr}})
		}
		if next != int64(len(data)) {
			t.Fatalf("tensors end at %d of %d", next, len(data))
		}
		// Re-encoding gives a file that reads back the same.
		var buf bytes.Buffer
		if err := Encode(&buf, tensors, r.Meta()); err != nil {
			t.Fatal(err)
		}
		r2, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if len(r2.Tensors()) != len(r.Tensors()) || !mapsEqual(r2.Meta(), r.Meta()) {
			t.Fatal("re-encoded file differs")
		}
		for _, ti := range r.Tensors() {
			t2, ok := r2.Tensor(ti.Name)
			if !ok || t2.DType != ti.DType || !slices.Equal(t2.Shape, ti.Shape) {
				t.Fatalf("tensor %q differs after re-encoding", ti.Name)
			}
		}
	})
}
