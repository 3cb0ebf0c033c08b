package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mlmf/formats"
)

// hfFixture is one file of testdata/mapping/hf, written by
// tests/interop/gen_mapping.py from a tiny random transformers model: its
// config.json, its full state-dict tensor list, and what gguf-py's
// TensorNameMap maps each name to (null where it maps nothing).
type hfFixture struct {
	Arch      string             `json:"arch"`
	GGUFArch  string             `json:"gguf_arch"`
	Config    json.RawMessage    `json:"config"`
	Tensors   []fixtureTensor    `json:"tensors"`
	GGUFNames map[string]*string `json:"gguf_names"`
}

type fixtureTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	// SHA256 is the digest of the tensor's float32 bytes (convert fixtures).
	SHA256 string `json:"sha256,omitempty"`
}

func loadFixtures(t testing.TB) []hfFixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "mapping", "hf", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/mapping/hf (run tests/interop/gen_mapping.py): %v", err)
	}
	sort.Strings(files)
	var out []hfFixture
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx hfFixture
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, fx)
	}
	return out
}

func (fx hfFixture) infos() []formats.TensorInfo {
	out := make([]formats.TensorInfo, len(fx.Tensors))
	for i, t := range fx.Tensors {
		out[i] = formats.TensorInfo{Name: t.Name, Shape: t.Shape, DType: formats.F32}
	}
	return out
}

// TestOracleGGUFNames checks every registered HF architecture against gguf-py:
// where gguf-py maps a name, mlmf maps it to the same canonical name; the
// report is clean (nothing unmapped, missing, mis-shaped or colliding); and the
// reverse map gives back the HF names exactly.
func TestOracleGGUFNames(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Arch, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig(fx.Config, fx.Arch+"/config.json")
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMapper(fx.Arch, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Arch().GGUFArch; got != fx.GGUFArch {
				t.Errorf("gguf arch %q, gguf-py used %q", got, fx.GGUFArch)
			}
			compared := 0
			for _, tn := range fx.Tensors {
				want := fx.GGUFNames[tn.Name]
				mp, ok := m.ToCanonical(tn.Name)
				if want == nil {
					continue
				}
				if !ok {
					t.Errorf("%s: unmapped, gguf-py: %s", tn.Name, *want)
					continue
				}
				if mp.Parts != nil {
					// mlmf splits it (DeepSeek kv_b → k_b, v_b): not one
					// to one, so gguf-py's name map is not the reference;
					// TestPlanMatchesConvert checks it against the converter.
					continue
				}
				got := mp.Canonical
				if !strings.HasSuffix(*want, ".weight") && !strings.HasSuffix(*want, ".bias") {
					// gguf-py returns a suffix-less name for suffix-less HF
					// parameters (transformers 5 fused experts); GGUF files
					// carry the suffix.
					got = strings.TrimSuffix(got, ".weight")
				}
				if got != *want {
					t.Errorf("%s: mlmf %s, gguf-py %s", tn.Name, got, *want)
				}
				compared++
			}
			rep := m.Report(fx.infos())
			if !rep.Summary.OK {
				b, _ := json.MarshalIndent(struct {
					U any
					M any
					S any
					C any
				}{rep.Unmapped, rep.Missing, rep.ShapeMismatches, rep.Collisions}, "", " ")
				t.Errorf("report not clean: %s", b)
			}
			for _, mp := range rep.Mapped {
				names := rep.HFNames(mp.Canonical)
				found := false
				for _, n := range names {
					found = found || n == mp.HF
				}
				if !found {
					t.Errorf("reverse of %s gives %v, want it to contain %s", mp.Canonical, names, mp.HF)
				}
				back, ok := m.ToHF(mp.Canonical)
				if !ok {
					t.Errorf("ToHF(%s) failed", mp.Canonical)
					continue
				}
				if mp.Expert == nil && mp.Parts == nil && (len(back) != 1 || back[0] != mp.HF) {
					t.Errorf("ToHF(%s) = %v, want [%s]", mp.Canonical, back, mp.HF)
				}
			}
			t.Logf("%s: %d tensors, %d compared with gguf-py, %d mapped, %d skipped", fx.Arch, len(fx.Tensors), compared, len(rep.Mapped), len(rep.Skipped))
		})
	}
}
