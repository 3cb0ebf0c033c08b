package mapping

import (
	"errors"
	"slices"
	"testing"

	"mlmf/formats"
)

func TestCanonicalNames(t *testing.T) {
	t.Parallel()
	a, err := Lookup("llama")
	if err != nil {
		t.Fatal(err)
	}
	names := a.CanonicalNames()
	for _, want := range []string{"token_embd.weight", "blk.{bid}.attn_q.weight", "blk.{bid}.ffn_down.weight", "output_norm.weight"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q missing from %v", want, names)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%q listed twice", n)
		}
		seen[n] = true
	}
}

func TestRuleFor(t *testing.T) {
	t.Parallel()
	a, err := Lookup("llama")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, canonical string
		want            UserRule
		err             bool
	}{
		{"model.layers.3.mlp.proj_out.weight", "blk.3.ffn_down.weight",
			UserRule{HF: "model.layers.{bid}.mlp.proj_out.weight", Canonical: "blk.{bid}.ffn_down.weight"}, false},
		{"model.layers.3.mlp.proj_out.weight", "blk.{bid}.ffn_down.weight",
			UserRule{HF: "model.layers.{bid}.mlp.proj_out.weight", Canonical: "blk.{bid}.ffn_down.weight"}, false},
		{"model.layers.0.attn.wq.weight", "blk.{bid}.attn_q.weight",
			UserRule{HF: "model.layers.{bid}.attn.wq.weight", Canonical: "blk.{bid}.attn_q.weight", Transform: OpPermuteQK, TransformArg: "n_head"}, false},
		{"head.weight", "output.weight", UserRule{HF: "head.weight", Canonical: "output.weight"}, false},
		// a block tensor given a name outside the blocks maps alone
		{"model.layers.1.extra.weight", "output.weight", UserRule{HF: "model.layers.1.extra.weight", Canonical: "output.weight"}, false},
		{"head.weight", "blk.{bid}.ffn_down.weight", UserRule{}, true},
		{"head.weight", "", UserRule{}, true},
	} {
		got, err := a.RuleFor(tc.name, tc.canonical)
		if tc.err {
			if !errors.Is(err, ErrBadRules) {
				t.Errorf("RuleFor(%q, %q) = %+v, %v; want ErrBadRules", tc.name, tc.canonical, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("RuleFor(%q, %q) = %+v, %v; want %+v", tc.name, tc.canonical, got, err, tc.want)
		}
	}
}

// A rule made for one tensor maps the same tensor of every block, and the
// report comes out clean.
func TestRuleForFixesEveryBlock(t *testing.T) {
	t.Parallel()
	a, _ := Lookup("llama")
	var ts []formats.TensorInfo
	for _, n := range []string{"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"} {
		ts = append(ts, formats.TensorInfo{Name: n})
	}
	for _, b := range []string{"0", "1"} {
		for _, n := range []string{"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
			"post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.proj_out"} {
			ts = append(ts, formats.TensorInfo{Name: "model.layers." + b + "." + n + ".weight"})
		}
	}
	u, err := a.RuleFor("model.layers.1.mlp.proj_out.weight", "blk.1.ffn_down.weight")
	if err != nil {
		t.Fatal(err)
	}
	r := &Rules{Arch: "llama"}
	if err := r.Add(u); err != nil {
		t.Fatal(err)
	}
	m, err := NewMapper("llama", nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if rep := m.Report(ts); !rep.Summary.OK {
		t.Errorf("report not clean: %+v", rep.Summary)
	}
}
