package mapping

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// convertFixture is one file of testdata/mapping/convert, written by
// tests/interop/gen_mapping_convert.py: the tensors (names, row-major shapes)
// of the GGUF that llama.cpp's convert_hf_to_gguf.py writes for the tiny model,
// or the error it stopped with.
type convertFixture struct {
	Arch     string          `json:"arch"`
	GGUFArch string          `json:"gguf_arch"`
	Error    string          `json:"error"`
	Tensors  []fixtureTensor `json:"tensors"`
}

// TestPlanMatchesConvert compares mlmf's export plan (names and shapes,
// MoE experts stacked, fused tensors split, transforms applied) with the
// GGUF convert_hf_to_gguf.py writes for the same tiny model.
func TestPlanMatchesConvert(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "mapping", "convert", "*.json"))
	if len(files) == 0 {
		t.Skip("no convert fixtures (tests/interop/gen_mapping_convert.py)")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cf convertFixture
		if err := json.Unmarshal(b, &cf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Run(cf.Arch, func(t *testing.T) {
			if cf.Error != "" {
				t.Skipf("convert_hf_to_gguf.py cannot convert this model: %s", cf.Error)
			}
			fx := fixtureByArch(t, cf.Arch)
			cfg, err := ParseConfig(fx.Config, "config.json")
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMapper(cf.Arch, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Arch().GGUFArch != cf.GGUFArch {
				t.Errorf("gguf arch %s, convert wrote %s", m.Arch().GGUFArch, cf.GGUFArch)
			}
			plan := m.Report(fx.infos()).Plan()
			got := map[string][]int64{}
			for _, p := range plan {
				got[p.Name] = p.Shape
			}
			want := map[string][]int64{}
			for _, tn := range cf.Tensors {
				want[tn.Name] = tn.Shape
			}
			var diffs []string
			for n, s := range want {
				g, ok := got[n]
				switch {
				case !ok:
					diffs = append(diffs, fmt.Sprintf("convert writes %s %v, mlmf's plan lacks it", n, s))
				case !slices.Equal(squeeze(g), squeeze(s)):
					diffs = append(diffs, fmt.Sprintf("%s: mlmf %v, convert %v", n, g, s))
				}
			}
			for n := range got {
				if _, ok := want[n]; !ok {
					diffs = append(diffs, fmt.Sprintf("mlmf plans %s, convert does not write it", n))
				}
			}
			sort.Strings(diffs)
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
}

// squeeze drops size-1 dims, as convert_hf_to_gguf.py does for some 1-row
// tensors (and GGUF cannot tell apart).
func squeeze(s []int64) []int64 {
	var out []int64
	for _, d := range s {
		if d != 1 {
			out = append(out, d)
		}
	}
	return out
}
