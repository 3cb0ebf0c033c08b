package mapping

import (
	"slices"
	"testing"
)

// TestDetectFixtures detects every fixture model from its config.json, from
// its tensor names alone, and from GGUF metadata naming its architecture.
func TestDetectFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Arch, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig(fx.Config, "config.json")
			if err != nil {
				t.Fatal(err)
			}
			a, _ := Lookup(fx.Arch)
			if len(a.HFClasses) == 0 {
				// Consolidated naming: params.json names no architecture
				// and GGUF files never carry these names; names decide.
				d := Detect(DetectInput{Config: cfg, Tensors: fx.infos()})
				if !slices.Contains(d.Candidates, fx.Arch) || d.Source != "tensor-names" {
					t.Errorf("from params.json and names: %+v", d)
				}
				return
			}
			d := Detect(DetectInput{Config: cfg, Tensors: fx.infos()})
			if d.Arch != fx.Arch || d.Ambiguous || d.Source != "config.architectures" {
				t.Errorf("from config: %+v", d)
			}
			cfg.Architectures = nil
			d = Detect(DetectInput{Config: cfg})
			if d.Arch != fx.Arch || d.Source != "config.model_type" {
				t.Errorf("from model_type: %+v", d)
			}

			d = Detect(DetectInput{Tensors: fx.infos()})
			if !slices.Contains(d.Candidates, fx.Arch) {
				t.Errorf("from names: %s not among %v (%s)", fx.Arch, d.Candidates, d.Reason)
			}
			if d.Ambiguous != (len(d.Candidates) > 1) {
				t.Errorf("from names: ambiguous=%v with candidates %v", d.Ambiguous, d.Candidates)
			}
			if len(d.Candidates) > 1 {
				// Every candidate must map the names identically: the
				// ambiguity is honest only if the tensors cannot tell.
				for _, c := range d.Candidates[1:] {
					assertSameMapping(t, fx, d.Candidates[0], c)
				}
			}
			t.Logf("names → %v (%.2f): %s", d.Candidates, d.Confidence, d.Reason)

			kv := map[string]any{"general.architecture": fx.GGUFArch}
			if cfg.Effective().NumExperts > 0 {
				kv[fx.GGUFArch+".expert_count"] = uint32(cfg.Effective().NumExperts)
			}
			d = Detect(DetectInput{GGUF: kv})
			if !slices.Contains(d.Candidates, fx.Arch) || d.Source != "gguf" {
				t.Errorf("from gguf: %s not among %+v", fx.Arch, d)
			}
		})
	}
}

func assertSameMapping(t *testing.T, fx hfFixture, a, b string) {
	t.Helper()
	ma, err := NewMapper(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := NewMapper(b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range fx.Tensors {
		pa, oka := ma.ToCanonical(tn.Name)
		pb, okb := mb.ToCanonical(tn.Name)
		// One may skip what the other maps (gemma drops the tied lm_head
		// that llama maps to output); where both map, they must agree.
		if oka && okb && pa.Canonical != pb.Canonical {
			t.Errorf("ambiguity %s/%s is not honest: %s → %q vs %q", a, b, tn.Name, pa.Canonical, pb.Canonical)
		}
	}
}

func TestDetectOverrideAndNone(t *testing.T) {
	d := Detect(DetectInput{Override: "mistral"})
	if d.Arch != "mistral" || d.Source != "override" || d.Confidence != 1 {
		t.Errorf("override: %+v", d)
	}
	d = Detect(DetectInput{})
	if d.Arch != "" || d.Source != "none" {
		t.Errorf("nothing: %+v", d)
	}
	d = Detect(DetectInput{GGUF: map[string]any{"general.architecture": "llama"}})
	if !d.Ambiguous || !slices.Equal(d.Candidates, []string{"llama", "mistral"}) {
		t.Errorf("gguf llama without experts: %+v", d)
	}
}

func TestConfigFromGGUF(t *testing.T) {
	kv := map[string]any{
		"general.architecture":                   "llama",
		"llama.block_count":                      uint32(2),
		"llama.embedding_length":                 uint32(64),
		"llama.attention.head_count":             uint32(4),
		"llama.attention.head_count_kv":          []any{uint32(2), uint32(2)},
		"llama.feed_forward_length":              uint32(128),
		"llama.context_length":                   uint32(128),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.rope.freq_base":                   float32(10000),
		"tokenizer.ggml.tokens":                  make([]any, 256),
	}
	c, err := ConfigFromGGUF(kv)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumLayers != 2 || c.HiddenSize != 64 || c.NumHeads != 4 || c.NumKVHeads != 2 || c.IntermediateSize != 128 || c.VocabSize != 256 || c.ModelType != "llama" {
		t.Errorf("config: %+v", c)
	}
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(b, "written.json")
	if err != nil {
		t.Fatalf("written config does not parse: %v\n%s", err, b)
	}
	if back.NumKVHeads != 2 || back.NumLayers != 2 || back.RopeTheta != 10000 {
		t.Errorf("round trip: %+v", back)
	}
	kv["llama.block_count"] = "two"
	if _, err := ConfigFromGGUF(kv); err == nil {
		t.Error("string block_count accepted")
	}
	kv["llama.block_count"] = int64(-3)
	if _, err := ConfigFromGGUF(kv); err == nil {
		t.Error("negative block_count accepted")
	}
}
