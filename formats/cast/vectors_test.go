package cast

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats"
)

type vectorManifest struct {
	Generator string `json:"generator"`
	NumPy     string `json:"numpy"`
	MLDtypes  string `json:"ml_dtypes"`
	Seed      uint64 `json:"seed"`
	Vectors   []struct {
		Name     string `json:"name"`
		Src      string `json:"src"`
		Dst      string `json:"dst"`
		Saturate bool   `json:"saturate"`
		ViaF32   bool   `json:"via_f32"`
		Count    int    `json:"count"`
		SrcFile  string `json:"src_file"`
		DstFile  string `json:"dst_file"`
	} `json:"vectors"`
}

// TestMLDtypesVectors converts every vector written by
// tests/interop/gen_cast_vectors.py (numpy + ml_dtypes) and compares the
// result bit for bit. It reads $MLMF_CAST_VECTORS when set (pytest points it
// at freshly generated random vectors) and the committed
// testdata/mldtypes otherwise.
func TestMLDtypesVectors(t *testing.T) {
	dir := os.Getenv("MLMF_CAST_VECTORS")
	if dir == "" {
		dir = filepath.Join("testdata", "mldtypes")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m vectorManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Vectors) == 0 {
		t.Fatal("manifest lists no vectors")
	}
	t.Logf("%d vectors from %s (numpy %s, ml_dtypes %s, seed %d)", len(m.Vectors), dir, m.NumPy, m.MLDtypes, m.Seed)
	for _, v := range m.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			st, err := formats.ParseDType(v.Src)
			if err != nil {
				t.Fatal(err)
			}
			dt, err := formats.ParseDType(v.Dst)
			if err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(filepath.Join(dir, v.SrcFile))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, v.DstFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(src) != v.Count*st.TypeSize() || len(want) != v.Count*dt.TypeSize() {
				t.Fatalf("files hold %d and %d bytes, manifest says %d elements", len(src), len(want), v.Count)
			}
			got := make([]byte, len(want))
			opt := Options{Saturate: v.Saturate, ViaF32: v.ViaF32}
			if err := Convert(got, dt, src, st, opt); err != nil {
				t.Fatal(err)
			}
			size := dt.TypeSize()
			bad := 0
			for i := 0; i < len(want); i += size {
				for j := 0; j < size; j++ {
					if got[i+j] != want[i+j] {
						if bad < 8 {
							t.Errorf("element %d: %v % x → got % x, want % x", i/size, st,
								src[i/size*st.TypeSize():(i/size+1)*st.TypeSize()], got[i:i+size], want[i:i+size])
						}
						bad++
						break
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d elements differ", bad, v.Count)
			}
		})
	}
}
