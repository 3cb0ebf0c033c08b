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
	// SavedTensors and SavedConfig are the checkpoint as
	// save_pretrained writes it (per-expert MoE modules, no tied output),
	// the input the converter read.
	SavedTensors []fixtureTensor `json:"saved_tensors"`
	SavedConfig  json.RawMessage `json:"saved_config"`
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
		fx := fixtureByArch(t, cf.Arch)
		saved := hfFixture{Arch: cf.Arch, Config: cf.SavedConfig, Tensors: cf.SavedTensors}
		for _, in := range []struct {
			name string
			fx   hfFixture
		}{{"state_dict", fx}, {"saved", saved}} {
			t.Run(cf.Arch+"/"+in.name, func(t *testing.T) {
				comparePlan(t, cf, in.fx)
			})
		}
	}
}

func comparePlan(t *testing.T, cf convertFixture, fx hfFixture) {
	cfg, err := ParseConfig(fx.Config, "config.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapper(cf.Arch, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := m.Report(fx.infos())
	if !rep.Summary.OK {
		t.Errorf("report not clean: %+v", rep.Summary)
	}
	if cf.Error != "" {
		t.Skipf("convert_hf_to_gguf.py cannot convert this model: %s", cf.Error)
	}
	if m.Arch().GGUFArch != cf.GGUFArch {
		t.Errorf("gguf arch %s, convert wrote %s", m.Arch().GGUFArch, cf.GGUFArch)
	}
	plan := rep.Plan()
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
	// Bytes: where the saved checkpoint's digests are known, an
	// untransformed one-source tensor is written unchanged and a
	// transformed one is not. (Exact bytes of every transform are
	// checked by tests/interop/test_mapping_convert.py.)
	srcSum := map[string]string{}
	for _, tn := range fx.Tensors {
		srcSum[tn.Name] = tn.SHA256
	}
	outSum := map[string]string{}
	for _, tn := range cf.Tensors {
		outSum[tn.Name] = tn.SHA256
	}
	for _, p := range plan {
		if len(p.Sources) != 1 || p.Parts > 1 || srcSum[p.Sources[0]] == "" || outSum[p.Name] == "" {
			continue
		}
		same := srcSum[p.Sources[0]] == outSum[p.Name]
		if changes := p.Transform != nil && p.Transform.Op != OpStackExperts; same == changes {
			diffs = append(diffs, fmt.Sprintf("%s: transform %v, but the converter's bytes are %s the source's",
				p.Name, p.Transform, map[bool]string{true: "equal to", false: "different from"}[same]))
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
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
