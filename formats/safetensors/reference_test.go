package safetensors

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"mlmf/formats"
)

// manifest describes the files testdata/reference/gen.py wrote with the
// Python reference implementation.
type manifest struct {
	Version string `json:"safetensors_version"`
	Cases   []struct {
		File     string            `json:"file"`
		Metadata map[string]string `json:"metadata"`
		Tensors  []manifestTensor  `json:"tensors"`
		Extra    map[string]any    `json:"-"`
	} `json:"cases"`
	Index struct {
		TotalSize int64             `json:"total_size"`
		WeightMap map[string]string `json:"weight_map"`
	} `json:"index"`
}

type manifestTensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	Data  string  `json:"data"`
}

func loadManifest(t *testing.T) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "0.8.0" {
		t.Fatalf("reference fixtures made with safetensors %s, tests expect 0.8.0", m.Version)
	}
	return &m
}

// TestEncodeMatchesReference checks that Encode writes, byte for byte, what
// the Python safetensors package wrote for the same tensors and metadata.
func TestEncodeMatchesReference(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Cases {
		t.Run(c.File, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "reference", c.File))
			if err != nil {
				t.Fatal(err)
			}
			var tensors []formats.Tensor
			for _, mt := range c.Tensors {
				d, ok := dtypeByName[mt.DType]
				if !ok {
					t.Fatalf("manifest dtype %q", mt.DType)
				}
				data, err := hex.DecodeString(mt.Data)
				if err != nil {
					t.Fatal(err)
				}
				shape := mt.Shape
				if shape == nil {
					shape = []int64{}
				}
				tensors = append(tensors, formats.Tensor{Name: mt.Name, DType: d, Shape: shape, Data: formats.BytesData(data)})
			}
			// Shuffle the input order: the output must not depend on it.
			slices.Reverse(tensors)
			var buf bytes.Buffer
			if err := Encode(&buf, tensors, c.Metadata); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Encode differs from the reference:\n got %q\nwant %q", buf.Bytes(), want)
			}

			// And the reader sees in the reference file what the manifest says.
			f, err := NewReader(bytes.NewReader(want), int64(len(want)), WithName(c.File))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors()) != len(c.Tensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors()), len(c.Tensors))
			}
			for _, mt := range c.Tensors {
				info, ok := f.Tensor(mt.Name)
				if !ok {
					t.Fatalf("tensor %q missing", mt.Name)
				}
				if info.DType.String() != mt.DType || !slices.Equal(info.Shape, mt.Shape) || info.Size != int64(len(mt.Data)/2) {
					t.Errorf("tensor %q: got %v %v %d bytes, want %s %v %d", mt.Name, info.DType, info.Shape, info.Size,
						mt.DType, mt.Shape, len(mt.Data)/2)
				}
				sr, err := f.TensorReader(mt.Name)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, sr.Size())
				if _, err := sr.ReadAt(got, 0); err != nil && len(got) > 0 {
					t.Fatal(err)
				}
				if hex.EncodeToString(got) != mt.Data {
					t.Errorf("tensor %q: data %x, want %s", mt.Name, got, mt.Data)
				}
			}
			if c.Metadata == nil && f.Meta() != nil || c.Metadata != nil && !mapsEqual(f.Meta(), c.Metadata) {
				t.Errorf("metadata %v, want %v", f.Meta(), c.Metadata)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestIndexMatchesTransformers checks the index against Python's
// json.dumps(index, indent=2, sort_keys=True) + "\n".
func TestIndexMatchesTransformers(t *testing.T) {
	m := loadManifest(t)
	want, err := os.ReadFile(filepath.Join("testdata", "reference", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := encodeIndex(m.Index.TotalSize, m.Index.WeightMap)
	if !bytes.Equal(got, want) {
		t.Errorf("index differs:\n got %q\nwant %q", got, want)
	}
}
