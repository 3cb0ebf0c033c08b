package mapping

import (
	"fmt"
	"strings"
	"testing"

	"mlmf/formats"
)

// renameScheme is a systematic renaming of a checkpoint's module paths that
// keeps its structure: the block prefix, a new local name per canonical role,
// and new names for the tensors outside blocks.
type renameScheme struct {
	name   string
	prefix string            // block prefix with %d for the block index
	block  map[string]string // canonical role ("attn_q") → local module path
	global map[string]string // canonical name without suffix → module path
	suffix map[string]string // weight/bias → the scheme's spelling (default: same)
}

// The schemes of the acceptance criterion. Held-out schemes are tried by the
// reviewers, not here.
var renameSchemes = []renameScheme{
	{
		name:   "megatron",
		prefix: "layers.%d.",
		block: map[string]string{
			"attn_norm": "input_layernorm", "attn_q": "self_attention.linear_q", "attn_k": "self_attention.linear_k",
			"attn_v": "self_attention.linear_v", "attn_qkv": "self_attention.linear_qkv", "attn_output": "self_attention.linear_proj",
			"ffn_norm": "pre_mlp_layernorm", "ffn_gate": "mlp.linear_gate", "ffn_up": "mlp.linear_fc1", "ffn_down": "mlp.linear_fc2",
		},
		global: map[string]string{"token_embd": "embedding.word_embeddings", "position_embd": "embedding.position_embeddings",
			"output_norm": "final_layernorm", "output": "output_layer"},
	},
	{
		name:   "distilbert",
		prefix: "transformer.layer.%d.",
		block: map[string]string{
			"attn_norm": "sa_layer_norm", "attn_q": "attention.q_lin", "attn_k": "attention.k_lin", "attn_v": "attention.v_lin",
			"attn_qkv": "attention.qkv_lin", "attn_output": "attention.out_lin", "ffn_norm": "output_layer_norm",
			"ffn_gate": "ffn.gate_lin", "ffn_up": "ffn.lin1", "ffn_down": "ffn.lin2",
		},
		global: map[string]string{"token_embd": "embeddings.word_embeddings", "position_embd": "embeddings.position_embeddings",
			"output_norm": "final_layer_norm", "output": "vocab_projector"},
	},
	{
		name:   "terse",
		prefix: "blocks.%d.",
		block: map[string]string{
			"attn_norm": "norm1", "attn_q": "q", "attn_k": "k", "attn_v": "v", "attn_qkv": "qkv", "attn_output": "o",
			"ffn_norm": "norm2", "ffn_gate": "ffn_gate", "ffn_up": "ffn_in", "ffn_down": "ffn_out",
		},
		global: map[string]string{"token_embd": "tok_emb", "position_embd": "pos_emb", "output_norm": "norm_f", "output": "head"},
	},
}

// renamed is a generated checkpoint: renamed tensors and, for each, the
// canonical name it really is.
type renamed struct {
	tensors []formats.TensorInfo
	truth   []string
}

// generateRenamed applies a scheme to a fixture model (the generator of the
// suggestion acceptance test).
func generateRenamed(t testing.TB, m *Mapper, fx hfFixture, s renameScheme) renamed {
	t.Helper()
	var out renamed
	for _, tn := range fx.Tensors {
		mp, ok := m.ToCanonical(tn.Name)
		if !ok {
			continue // skipped buffers
		}
		segs := strings.Split(mp.Canonical, ".")
		suffix := segs[len(segs)-1]
		canonSuffix := suffix
		if sp, ok := s.suffix[suffix]; ok {
			suffix = sp
		}
		var name string
		if mp.Block >= 0 {
			role := segs[2]
			local, ok := s.block[role]
			if !ok {
				t.Fatalf("scheme %s has no name for %s", s.name, role)
			}
			name = fmt.Sprintf(s.prefix, mp.Block) + local + "." + suffix
		} else {
			g, ok := s.global[strings.TrimSuffix(mp.Canonical, "."+canonSuffix)]
			if !ok {
				t.Fatalf("scheme %s has no name for %s", s.name, mp.Canonical)
			}
			name = g + "." + suffix
		}
		out.tensors = append(out.tensors, formats.TensorInfo{Name: name, Shape: tn.Shape, DType: formats.F32})
		out.truth = append(out.truth, mp.Canonical)
	}
	return out
}

func fixtureByArch(t testing.TB, arch string) hfFixture {
	for _, fx := range loadFixtures(t) {
		if fx.Arch == arch {
			return fx
		}
	}
	t.Fatalf("no fixture for %s", arch)
	return hfFixture{}
}

// TestSuggestAcceptance: on LLaMA- and GPT-2-shaped checkpoints renamed by
// each scheme, the top suggestion is right for at least 90% of the tensors
// and one of the top three for at least 98%.
func TestSuggestAcceptance(t *testing.T) {
	for _, withConfig := range []bool{true, false} {
		t.Run(fmt.Sprintf("config=%v", withConfig), func(t *testing.T) { suggestAcceptance(t, withConfig) })
	}
}

func suggestAcceptance(t *testing.T, withConfig bool) {
	var top1, top3, total int
	for _, arch := range []string{"llama", "gpt2"} {
		fx := fixtureByArch(t, arch)
		cfg, err := ParseConfig(fx.Config, "config.json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMapper(arch, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		sm := m // suggests; without a config shapes cannot be checked
		if !withConfig {
			if sm, err = NewMapper(arch, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range renameSchemes {
			r := generateRenamed(t, m, fx, s)
			got := sm.Suggest(r.tensors, 3)
			if len(got) != len(r.tensors) {
				t.Fatalf("%s/%s: %d suggestion lists for %d renamed tensors", arch, s.name, len(got), len(r.tensors))
			}
			var t1, t3 int
			for i, ns := range got {
				for j, sg := range ns.Suggestions {
					if sg.Canonical == r.truth[i] {
						if j == 0 {
							t1++
						}
						t3++
						break
					}
				}
				if len(ns.Suggestions) == 0 || ns.Suggestions[0].Canonical != r.truth[i] {
					first := "(none)"
					if len(ns.Suggestions) > 0 {
						first = ns.Suggestions[0].Canonical + " — " + ns.Suggestions[0].Reason
					}
					t.Logf("%s/%s: %s → %s, want %s", arch, s.name, ns.Name, first, r.truth[i])
				}
			}
			fmt.Printf("suggest config=%-5v %-6s %-10s top-1 %3d/%3d  top-3 %3d/%3d\n", withConfig, arch, s.name, t1, len(got), t3, len(got))
			top1 += t1
			top3 += t3
			total += len(got)
		}
	}
	p1, p3 := 100*float64(top1)/float64(total), 100*float64(top3)/float64(total)
	fmt.Printf("suggest config=%v overall: top-1 %.1f%% (%d/%d), top-3 %.1f%% (%d/%d)\n", withConfig, p1, top1, total, p3, top3, total)
	if p1 < 90 || p3 < 98 {
		t.Errorf("suggestions below the bar: top-1 %.1f%% (want ≥ 90), top-3 %.1f%% (want ≥ 98)", p1, p3)
	}
}

// TestSuggestAcceptedRulesGeneralise accepts every top suggestion as a {bid}
// rule and checks that the resulting mapping file maps the renamed checkpoint
// exactly like the original, and survives a save/load round trip.
func TestSuggestAcceptedRulesGeneralise(t *testing.T) {
	for _, arch := range []string{"llama", "gpt2"} {
		fx := fixtureByArch(t, arch)
		cfg, err := ParseConfig(fx.Config, "config.json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMapper(arch, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range renameSchemes {
			r := generateRenamed(t, m, fx, s)
			rules := &Rules{Arch: arch, Source: "accepted.yaml"}
			seen := map[string]bool{}
			for _, ns := range m.Suggest(r.tensors, 1) {
				if len(ns.Suggestions) == 0 {
					t.Fatalf("%s/%s: no suggestion for %s", arch, s.name, ns.Name)
				}
				rule := ns.Suggestions[0].Rule
				if seen[rule.HF] {
					continue
				}
				seen[rule.HF] = true
				if err := rules.Add(rule); err != nil {
					t.Fatal(err)
				}
			}
			// One rule per pattern: the per-block names collapsed into {bid}.
			if len(rules.Rules) >= len(r.tensors) && arch == "llama" {
				t.Errorf("%s/%s: %d rules for %d tensors: suggestions did not generalise", arch, s.name, len(rules.Rules), len(r.tensors))
			}
			path := t.TempDir() + "/rules.yaml"
			if err := SaveRules(path, rules); err != nil {
				t.Fatal(err)
			}
			loaded, err := LoadRules(path)
			if err != nil {
				t.Fatal(err)
			}
			mu, err := NewMapper("", cfg, loaded)
			if err != nil {
				t.Fatal(err)
			}
			rep := mu.Report(r.tensors)
			if !rep.Summary.OK {
				t.Errorf("%s/%s: accepted rules leave the report unclean: %+v", arch, s.name, rep.Summary)
			}
			for i, tn := range r.tensors {
				mp, ok := mu.ToCanonical(tn.Name)
				if !ok || mp.Canonical != r.truth[i] {
					t.Errorf("%s/%s: %s → %q, want %s", arch, s.name, tn.Name, mp.Canonical, r.truth[i])
				}
			}
		}
	}
}

// TestSuggestOtherSchemes prints the figures on schemes beyond the acceptance
// set. The synonyms they prompted (T5's wi_0/wi_1, NeoX's embed_in/embed_out)
// are conventions of registered architectures. It asserts only that every
// tensor gets suggestions: the acceptance bar is for the schemes above.
func TestSuggestOtherSchemes(t *testing.T) {
	others := []renameScheme{
		{name: "fairseq", prefix: "decoder.layers.%d.",
			block: map[string]string{"attn_norm": "self_attn_layer_norm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
				"attn_v": "self_attn.v_proj", "attn_qkv": "self_attn.in_proj", "attn_output": "self_attn.out_proj",
				"ffn_norm": "final_layer_norm", "ffn_gate": "fc_gate", "ffn_up": "fc1", "ffn_down": "fc2"},
			global: map[string]string{"token_embd": "decoder.embed_tokens", "position_embd": "decoder.embed_positions",
				"output_norm": "decoder.layer_norm", "output": "decoder.output_projection"}},
		{name: "neox-ish", prefix: "model.h.%d.",
			block: map[string]string{"attn_norm": "ln_attn", "attn_q": "attn.query", "attn_k": "attn.key", "attn_v": "attn.value",
				"attn_qkv": "attn.query_key_value", "attn_output": "attn.dense", "ffn_norm": "ln_mlp",
				"ffn_gate": "mlp.gate", "ffn_up": "mlp.dense_h_to_4h", "ffn_down": "mlp.dense_4h_to_h"},
			global: map[string]string{"token_embd": "model.embed_in", "position_embd": "model.pos_embed",
				"output_norm": "model.ln_final", "output": "embed_out"}},
	}
	others = append(others, renameScheme{name: "flax-ish", prefix: "h_%d.",
		block: map[string]string{"attn_norm": "ln_1", "attn_q": "attn.query", "attn_k": "attn.key", "attn_v": "attn.value",
			"attn_qkv": "attn.c_attn", "attn_output": "attn.out", "ffn_norm": "ln_2",
			"ffn_gate": "mlp.wi_0", "ffn_up": "mlp.wi_1", "ffn_down": "mlp.wo"},
		global: map[string]string{"token_embd": "wte", "position_embd": "wpe", "output_norm": "ln_f", "output": "lm_head_dense"},
		suffix: map[string]string{"weight": "kernel"}})
	for _, arch := range []string{"llama", "gpt2"} {
		fx := fixtureByArch(t, arch)
		cfg, _ := ParseConfig(fx.Config, "config.json")
		m, err := NewMapper(arch, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range others {
			r := generateRenamed(t, m, fx, s)
			truth := map[string]string{}
			for i, tn := range r.tensors {
				truth[tn.Name] = r.truth[i]
			}
			var t1, t3 int
			// Names the built-in rules already map count when mapped right.
			for _, tn := range r.tensors {
				if mp, ok := m.ToCanonical(tn.Name); ok && mp.Canonical == truth[tn.Name] {
					t1++
					t3++
				}
			}
			for _, ns := range m.Suggest(r.tensors, 3) {
				if len(ns.Suggestions) == 0 {
					t.Errorf("%s/%s: no suggestions for %s", arch, s.name, ns.Name)
					continue
				}
				for j, sg := range ns.Suggestions {
					if sg.Canonical == truth[ns.Name] {
						if j == 0 {
							t1++
						}
						t3++
					}
				}
				if ns.Suggestions[0].Canonical != truth[ns.Name] {
					t.Logf("%s/%s: %s → %s (%s), want %s", arch, s.name, ns.Name, ns.Suggestions[0].Canonical, ns.Suggestions[0].Reason, truth[ns.Name])
				}
			}
			n := len(r.tensors)
			fmt.Printf("suggest (extra schemes) %-6s %-9s top-1 %3d/%3d  top-3 %3d/%3d\n", arch, s.name, t1, n, t3, n)
		}
	}
}
