package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mlmf/formats"
)

func TestLoadRules(t *testing.T) {
	r, err := LoadRules(filepath.Join("..", "testdata", "mapping", "rules", "terse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Arch != "llama" || len(r.Rules) != 4 || len(r.Skip) != 1 || r.Rules[0].Line != 4 {
		t.Fatalf("parsed: %+v", r)
	}
	m, err := NewMapper("", nil, r)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"blocks.3.q.weight":                      "blk.3.attn_q.weight",
		"blocks.3.k.weight":                      "blk.3.attn_k.weight",
		"blocks.12.ffn_in.weight":                "blk.12.ffn_up.weight",
		"blocks.12.ffn_in.bias":                  "blk.12.ffn_up.bias",
		"blocks.0.experts.7.w1.weight":           "blk.0.ffn_gate_exps.weight",
		"model.layers.2.self_attn.v_proj.weight": "blk.2.attn_v.weight", // built-in rules still apply
	}
	for hf, want := range cases {
		mp, ok := m.ToCanonical(hf)
		if !ok || mp.Canonical != want {
			t.Errorf("%s → %q (%v), want %s", hf, mp.Canonical, ok, want)
		}
	}
	mp, _ := m.ToCanonical("blocks.0.experts.7.w1.weight")
	if mp.Expert == nil || *mp.Expert != 7 || mp.Transform == nil || mp.Transform.Op != OpStackExperts {
		t.Errorf("expert rule: %+v", mp)
	}
	mp, _ = m.ToCanonical("blocks.3.q.weight")
	if mp.Transform == nil || mp.Transform.Op != OpPermuteQK || !strings.Contains(mp.Rule, "terse.yaml:4") {
		t.Errorf("rule source/transform: %+v", mp)
	}
	if !m.Skipped("blocks.5.attn.masked_bias") {
		t.Error("user skip ignored")
	}
	// Reverse through a user template rule.
	if hf, ok := m.ToHF("blk.3.attn_q.weight"); !ok || hf[0] != "blocks.3.q.weight" {
		t.Errorf("ToHF through user rule: %v", hf)
	}
	// User rules win over built-ins.
	r2 := &Rules{Arch: "llama", Rules: []UserRule{{HF: "model.layers.{bid}.self_attn.q_proj.weight", Canonical: "blk.{bid}.attn_k.weight"}}}
	m2, err := NewMapper("", nil, r2)
	if err != nil {
		t.Fatal(err)
	}
	if mp, _ := m2.ToCanonical("model.layers.0.self_attn.q_proj.weight"); mp.Canonical != "blk.0.attn_k.weight" {
		t.Errorf("user rule did not take precedence: %+v", mp)
	}
	rep := m2.Report([]formats.TensorInfo{{Name: "model.layers.0.self_attn.q_proj.weight"}, {Name: "model.layers.0.self_attn.k_proj.weight"}})
	if len(rep.Collisions) != 1 || rep.Collisions[0].Canonical != "blk.0.attn_k.weight" {
		t.Errorf("collision not reported: %+v", rep.Collisions)
	}
}

func TestRulesErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"unknown top field", "arch: llama\nrulez: []\n", "rules.yaml:2: unknown field \"rulez\""},
		{"unknown arch", "arch: llamma\n", "rules.yaml:1: field \"arch\": unknown architecture"},
		{"rules not a list", "rules: {a: b}\n", "rules.yaml:1: field \"rules\""},
		{"rule without canonical", "rules:\n  - hf: a.{bid}.q.weight\n", "rules.yaml:2: rules[0]: field \"canonical\" is required"},
		{"both hf and match", "rules:\n  - hf: a.b\n    match: a\n    canonical: x\n", "rules.yaml:2: rules[0]: set only one"},
		{"bad placeholder", "rules:\n  - hf: a.{layer}.q\n    canonical: blk.{bid}.attn_q\n", "rules.yaml:2: rules[0]: field \"hf\""},
		{"bid mismatch", "rules:\n  - hf: a.{bid}.q\n    canonical: attn_q\n", "both use {bid}"},
		{"xid in canonical", "rules:\n  - hf: a.{bid}.{xid}.q\n    canonical: blk.{bid}.e{xid}\n", "{xid} belongs in hf only"},
		{"bad regexp", "rules:\n  - match: 'a(('\n    canonical: x\n", "field \"match\""},
		{"missing group", "rules:\n  - match: '^a(\\d+)$'\n    canonical: blk.$2.x\n", "$2 but match has 1 groups"},
		{"missing named group", "rules:\n  - match: '^a(\\d+)$'\n    canonical: blk.${n}.x\n", "no group named \"n\""},
		{"unknown transform", "rules:\n  - hf: a\n    canonical: b\n    transform: rotate\n", "unknown transform \"rotate\""},
		{"unknown transform arg", "rules:\n  - hf: a\n    canonical: b\n    transform: permute_qk\n    transform_arg: heads\n", "unknown config variable"},
		{"field not a string", "rules:\n  - hf: [a]\n    canonical: b\n", "rules.yaml:2: rules[0]: field \"hf\": want a string"},
		{"unknown rule field", "rules:\n  - hf: a\n    canon: b\n", "rules.yaml:3: rules[0]: unknown field \"canon\""},
		{"not yaml", "rules: [\n", "rules.yaml"},
		{"scalar document", "hello\n", "must be a mapping"},
		{"skip bad", "skip:\n  - a.{x}.b\n", "rules.yaml:2: skip[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules([]byte(c.doc), "rules.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadRules) {
				t.Errorf("%v is not ErrBadRules", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestRulesSaveLoadRoundTrip(t *testing.T) {
	src := filepath.Join("..", "testdata", "mapping", "rules", "terse.yaml")
	r1, err := LoadRules(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.yaml")
	if err := SaveRules(path, r1); err != nil {
		t.Fatal(err)
	}
	r2, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(r *Rules) *Rules {
		c := *r
		c.Source = ""
		c.Rules = append([]UserRule(nil), r.Rules...)
		for i := range c.Rules {
			c.Rules[i].Line = 0
		}
		return &c
	}
	if !reflect.DeepEqual(strip(r1), strip(r2)) {
		b, _ := os.ReadFile(path)
		t.Errorf("round trip differs:\n%+v\n%+v\n%s", r1, r2, b)
	}
}

func FuzzRules(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "mapping", "rules", "*.yaml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("rules:\n  - hf: '{bid}'\n    canonical: '{bid}'\n"))
	f.Add([]byte("rules:\n  - match: '(?P<a>x)'\n    canonical: '${a}'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRules(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrBadRules) {
				t.Fatalf("error without ErrBadRules: %v", err)
			}
			return
		}
		m, err := NewMapper("llama", nil, r)
		if err != nil {
			t.Fatalf("parsed rules do not compile: %v", err)
		}
		for _, n := range []string{"blocks.0.q.weight", "model.layers.1.mlp.up_proj.weight", "x", ""} {
			m.ToCanonical(n)
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		r2, err := ParseRules(b, "again.yaml")
		if err != nil {
			t.Fatalf("saved rules do not parse: %v\n%s", err, b)
		}
		if len(r2.Rules) != len(r.Rules) || len(r2.Skip) != len(r.Skip) || r2.Arch != r.Arch {
			t.Fatalf("round trip changed the rules:\n%s", b)
		}
	})
}

func BenchmarkParseRules(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "mapping", "rules", "terse.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRules(data, "terse.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
