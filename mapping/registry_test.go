package mapping

import (
	"fmt"
	"strings"
	"testing"

	"mlmf/formats"
)

// TestRegistryRulesBothWays expands every rule of every architecture for a
// sample block and expert, maps HF → canonical → HF, and checks that no HF
// name maps to two canonical names and no canonical name comes from two
// different rules (besides the per-expert and fused forms of one stacked
// tensor, and a rule's own alternative spellings).
func TestRegistryRulesBothWays(t *testing.T) {
	if len(Names()) < 26 {
		t.Errorf("only %d architectures registered", len(Names()))
	}
	for _, a := range All() {
		t.Run(a.Name, func(t *testing.T) {
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			cfg := &ModelConfig{HiddenSize: 64, NumLayers: 8, NumHeads: 4, NumExperts: 4, NumDecoderLayers: 8}
			m, err := NewMapper(a.Name, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ca, _ := a.compile()
			hfSeen := map[string]string{}
			canonRule := map[string]int{}
			for _, l := range ca.leaves {
				bid, xid := -1, -1
				if l.hf.hasSlot("bid") {
					bid = 5
				}
				if l.hf.hasSlot("xid") {
					xid = 3
				}
				hf := l.hf.expand(bid, xid)
				mp, ok := m.ToCanonical(hf)
				if !ok {
					t.Errorf("%s does not map", hf)
					continue
				}
				want := l.canonFull[0].expand(bid, -1)
				if mp.Canonical != want {
					t.Errorf("%s → %s, rule says %s (shadowed by an earlier rule)", hf, mp.Canonical, want)
				}
				if prev, dup := hfSeen[hf]; dup && prev != mp.Canonical {
					t.Errorf("%s maps to both %s and %s", hf, prev, mp.Canonical)
				}
				hfSeen[hf] = mp.Canonical
				if xid >= 0 && (mp.Expert == nil || *mp.Expert != xid) {
					t.Errorf("%s: expert %v, want %d", hf, mp.Expert, xid)
				}
				// Reverse: the rule's first spelling comes back, or for
				// stacked tensors the expert's name is among those returned.
				back, ok := m.ToHF(mp.Canonical)
				if !ok {
					t.Errorf("ToHF(%s) fails", mp.Canonical)
					continue
				}
				if l.variant == 0 && !l.stacked && len(l.canon) == 1 && !containsStr(back, hf) && !hasEarlierRule(ca, l, mp.Canonical) {
					t.Errorf("%s → %s → %v", hf, mp.Canonical, back)
				}
				if l.stacked && !hasEarlierRule(ca, l, mp.Canonical) && (len(back) != 4 || back[xid] != hf) {
					t.Errorf("stacked %s → %s → %v", hf, mp.Canonical, back)
				}
				for _, c := range l.canonFull {
					name := c.expand(bid, -1)
					if r, ok := canonRule[name]; ok && r != l.rule && !expertForms(ca, r, l.rule) {
						t.Errorf("%s comes from rules %d and %d", name, r, l.rule)
					}
					canonRule[name] = l.rule
				}
			}
			// Shapes parse and the bias of a transposed rule is its output dim.
			for _, r := range a.Tensors {
				if _, err := parseShape(r.Shape); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// expertForms reports whether two rules are the per-expert and fused forms of
// the same stacked tensor.
func expertForms(ca *compiledArch, a, b int) bool {
	var sa, sb bool
	for _, l := range ca.leaves {
		if l.rule == a {
			sa = l.stacked || len(l.canon) > 1 || strings.Contains(l.hf.src, "experts")
		}
		if l.rule == b {
			sb = l.stacked || len(l.canon) > 1 || strings.Contains(l.hf.src, "experts")
		}
	}
	return sa && sb
}

func hasEarlierRule(ca *compiledArch, l *leaf, canonical string) bool {
	ls, _, _ := ca.lookupCanon(canonical)
	return len(ls) > 0 && ls[0] != l
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func TestConsolidatedNaming(t *testing.T) {
	names := []string{"tok_embeddings.weight", "norm.weight", "output.weight", "rope.freqs"}
	for b := 0; b < 2; b++ {
		for _, n := range []string{"attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo", "ffn_norm", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"} {
			names = append(names, fmt.Sprintf("layers.%d.%s.weight", b, n))
		}
	}
	var ts []formats.TensorInfo
	for _, n := range names {
		ts = append(ts, formats.TensorInfo{Name: n})
	}
	d := Detect(DetectInput{Tensors: ts})
	if !d.Ambiguous || !containsStr(d.Candidates, "llama_consolidated") || !containsStr(d.Candidates, "mistral_consolidated") {
		t.Errorf("detection: %+v", d)
	}
	m, _ := NewMapper("llama_consolidated", nil, nil)
	rep := m.Report(ts)
	if !rep.Summary.OK || rep.Summary.Skipped != 1 || rep.Blocks != 2 {
		t.Errorf("report: %+v", rep.Summary)
	}
	for _, mp := range rep.Mapped {
		if mp.Transform != nil && mp.Transform.Op == OpPermuteQK {
			t.Errorf("%s: Meta's layout needs no Q/K permutation", mp.HF)
		}
	}
	if mp, _ := m.ToCanonical("layers.1.feed_forward.w1.weight"); mp.Canonical != "blk.1.ffn_gate.weight" {
		t.Errorf("w1 → %s", mp.Canonical)
	}
}

func TestReportFindsProblems(t *testing.T) {
	cfg := &ModelConfig{HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, IntermediateSize: 128, VocabSize: 256}
	m, err := NewMapper("llama", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ts []formats.TensorInfo
	add := func(n string, s ...int64) { ts = append(ts, formats.TensorInfo{Name: n, Shape: s}) }
	add("model.embed_tokens.weight", 256, 64)
	add("model.norm.weight", 64)
	for b := 0; b < 2; b++ {
		p := fmt.Sprintf("model.layers.%d.", b)
		add(p+"input_layernorm.weight", 64)
		add(p+"self_attn.q_proj.weight", 64, 64)
		add(p+"self_attn.k_proj.weight", 64, 64) // wrong: 2 KV heads × 16
		add(p+"self_attn.v_proj.weight", 32, 64)
		add(p+"self_attn.o_proj.weight", 64, 64)
		add(p+"post_attention_layernorm.weight", 64)
		add(p+"mlp.gate_proj.weight", 128, 64)
		if b == 0 {
			add(p+"mlp.up_proj.weight", 128, 64) // missing in block 1
		}
		add(p+"mlp.down_proj.weight", 64, 128)
	}
	add("model.layers.7.mlp.down_proj.weight", 64, 128) // beyond 2 blocks
	add("model.layers.0.mlp.extra.weight", 1)
	rep := m.Report(ts)
	if len(rep.ShapeMismatches) != 2 || rep.ShapeMismatches[0].Canonical != "blk.0.attn_k.weight" {
		t.Errorf("shape mismatches: %+v", rep.ShapeMismatches)
	}
	if len(rep.Missing) != 1 || rep.Missing[0].Canonical != "blk.1.ffn_up.weight" || rep.Missing[0].HF != "model.layers.1.mlp.up_proj.weight" {
		t.Errorf("missing: %+v", rep.Missing)
	}
	if len(rep.Unmapped) != 2 || !strings.Contains(rep.Unmapped[0].Reason, "beyond") {
		t.Errorf("unmapped: %+v", rep.Unmapped)
	}
	if rep.Summary.OK {
		t.Error("report says OK")
	}
}

func TestPrefixes(t *testing.T) {
	m, _ := NewMapper("bert", nil, nil)
	if mp, ok := m.ToCanonical("bert.encoder.layer.3.attention.self.query.bias"); !ok || mp.Canonical != "blk.3.attn_q.bias" {
		t.Errorf("wrapped bert: %+v", mp)
	}
	g, _ := NewMapper("gpt2", nil, nil)
	if mp, ok := g.ToCanonical("h.1.attn.c_attn.weight"); !ok || mp.Canonical != "blk.1.attn_qkv.weight" || mp.Transform.Op != OpTranspose {
		t.Errorf("bare GPT2Model names: %+v", mp)
	}
	if !g.Skipped("h.1.attn.masked_bias") {
		t.Error("bare GPT2Model buffer not skipped")
	}
	rep := g.Report([]formats.TensorInfo{{Name: "wte.weight"}, {Name: "h.0.ln_1.weight"}})
	if got := rep.HFNames("token_embd.weight"); len(got) != 1 || got[0] != "wte.weight" {
		t.Errorf("reverse keeps the checkpoint's spelling: %v", got)
	}
}

func TestTemplateHostileNames(t *testing.T) {
	tp := mustTemplate("model.layers.{bid}.mlp.experts.{xid}.w1.weight")
	for _, n := range []string{
		"model.layers.99999999999999999999.mlp.experts.1.w1.weight",
		"model.layers.01.mlp.experts.1.w1.weight",
		"model.layers.-1.mlp.experts.1.w1.weight",
		"model.layers..mlp.experts.1.w1.weight",
		"model.layers.1.mlp.experts.1.w1.weight.extra",
		"model.layers.1",
		"",
	} {
		if _, _, ok := tp.match(n); ok {
			t.Errorf("%q matched", n)
		}
	}
	if b, x, ok := tp.match("model.layers.12.mlp.experts.7.w1.weight"); !ok || b != 12 || x != 7 {
		t.Errorf("match: %d %d %v", b, x, ok)
	}
	emb := mustTemplate("h{bid}.attn.q")
	if b, _, ok := emb.match("h42.attn.q"); !ok || b != 42 || emb.expand(3, -1) != "h3.attn.q" {
		t.Errorf("embedded placeholder: %d %v", b, ok)
	}
	for _, bad := range []string{"", "a..b", "a.{foo}.b", "a.{bid}.{bid}"} {
		if _, err := compileTemplate(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}

func BenchmarkReport(b *testing.B) {
	fx := fixtureByArch(b, "mixtral")
	cfg, _ := ParseConfig(fx.Config, "config.json")
	m, _ := NewMapper("mixtral", cfg, nil)
	// A 32-block model's worth of names.
	var ts []formats.TensorInfo
	for blk := 0; blk < 32; blk++ {
		for _, t := range fx.Tensors {
			ts = append(ts, formats.TensorInfo{Name: strings.Replace(t.Name, ".0.", fmt.Sprintf(".%d.", blk), 1), Shape: t.Shape})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Report(ts)
	}
}

// TestPerExpertMoE: Hub checkpoints keep one module per expert; they stack
// into the same canonical tensors as transformers 5's fused parameters, a
// missing expert is reported, and mixing both forms collides.
func TestPerExpertMoE(t *testing.T) {
	cfg := &ModelConfig{HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, IntermediateSize: 128, VocabSize: 256, NumExperts: 4}
	m, err := NewMapper("mixtral", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ts []formats.TensorInfo
	add := func(n string, s ...int64) { ts = append(ts, formats.TensorInfo{Name: n, Shape: s}) }
	add("model.embed_tokens.weight", 256, 64)
	add("model.norm.weight", 64)
	add("lm_head.weight", 256, 64)
	for b := 0; b < 2; b++ {
		p := fmt.Sprintf("model.layers.%d.", b)
		add(p+"input_layernorm.weight", 64)
		add(p+"post_attention_layernorm.weight", 64)
		add(p+"self_attn.q_proj.weight", 64, 64)
		add(p+"self_attn.k_proj.weight", 32, 64)
		add(p+"self_attn.v_proj.weight", 32, 64)
		add(p+"self_attn.o_proj.weight", 64, 64)
		add(p+"block_sparse_moe.gate.weight", 4, 64)
		for x := 0; x < 4; x++ {
			e := fmt.Sprintf("%sblock_sparse_moe.experts.%d.", p, x)
			add(e+"w1.weight", 128, 64)
			if !(b == 1 && x == 3) {
				add(e+"w2.weight", 64, 128)
			}
			add(e+"w3.weight", 128, 64)
		}
	}
	rep := m.Report(ts)
	if rep.Summary.Unmapped != 0 || rep.Summary.ShapeMismatches != 0 || rep.Summary.Collisions != 0 {
		t.Fatalf("report: %+v", rep.Summary)
	}
	if len(rep.Missing) != 1 || rep.Missing[0].Canonical != "blk.1.ffn_down_exps.weight" || rep.Missing[0].Expert == nil || *rep.Missing[0].Expert != 3 {
		t.Errorf("missing expert not reported: %+v", rep.Missing)
	}
	plan := map[string]PlanTensor{}
	for _, p := range rep.Plan() {
		plan[p.Name] = p
	}
	g := plan["blk.0.ffn_gate_exps.weight"]
	if fmt.Sprint(g.Shape) != "[4 128 64]" || len(g.Sources) != 4 || g.Sources[2] != "model.layers.0.block_sparse_moe.experts.2.w1.weight" || g.Transform.Op != OpStackExperts {
		t.Errorf("stacked plan: %+v", g)
	}
	if got := rep.HFNames("blk.0.ffn_up_exps.weight"); len(got) != 4 || got[3] != "model.layers.0.block_sparse_moe.experts.3.w3.weight" {
		t.Errorf("reverse of stacked: %v", got)
	}
	// Fused and per-expert forms of the same tensor collide.
	ts = append(ts, formats.TensorInfo{Name: "model.layers.0.mlp.experts.gate_up_proj", Shape: []int64{4, 256, 64}})
	rep = m.Report(ts)
	if rep.Summary.Collisions == 0 {
		t.Error("fused + per-expert experts not reported as colliding")
	}
}

// FuzzNames feeds arbitrary tensor names and shapes through mapping,
// reporting, planning and suggesting: none of them may panic.
func FuzzNames(f *testing.F) {
	f.Add("model.layers.0.self_attn.q_proj.weight", int64(64), int64(64), "llama")
	f.Add("model.layers.1.mlp.experts.gate_up_proj", int64(4), int64(256), "mixtral")
	f.Add("h_3.attn.q.kernel", int64(-1), int64(0), "gpt2")
	f.Add("model.layers.9999999.self_attn.kv_b_proj.weight", int64(1), int64(1), "deepseek_v3")
	f.Add("", int64(0), int64(0), "t5")
	f.Fuzz(func(t *testing.T, name string, d0, d1 int64, arch string) {
		if _, err := Lookup(arch); err != nil {
			arch = "llama"
		}
		cfg := &ModelConfig{HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumExperts: 4, KVLoraRank: 16, QKNopeHeadDim: 16, VHeadDim: 16}
		for _, c := range []*ModelConfig{nil, cfg} {
			m, err := NewMapper(arch, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			ts := []formats.TensorInfo{{Name: name, Shape: []int64{d0, d1}}, {Name: name + ".weight", Shape: []int64{d1}}}
			rep := m.Report(ts)
			rep.Plan()
			m.Suggest(ts, 3)
			if mp, ok := m.ToCanonical(name); ok {
				m.ToHF(mp.Canonical)
			}
			m.ToHF(name)
		}
	})
}

func TestMultimodalLanguageModel(t *testing.T) {
	m, _ := NewMapper("gemma3", nil, nil)
	for hf, want := range map[string]string{
		"model.language_model.layers.2.self_attn.q_norm.weight": "blk.2.attn_q_norm.weight", // transformers 5
		"language_model.model.layers.2.mlp.up_proj.weight":      "blk.2.ffn_up.weight",      // transformers 4
		"model.language_model.embed_tokens.weight":              "token_embd.weight",
	} {
		if mp, ok := m.ToCanonical(hf); !ok || mp.Canonical != want {
			t.Errorf("%s → %q, want %s", hf, mp.Canonical, want)
		}
	}
	if _, ok := m.ToCanonical("model.vision_tower.encoder.layers.0.mlp.fc1.weight"); ok {
		t.Error("vision tower mapped as text")
	}
	c, err := ParseConfig([]byte(`{"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3","text_config":{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"head_dim":16}}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if d := Detect(DetectInput{Config: c}); d.Arch != "gemma3" {
		t.Errorf("detect: %+v", d)
	}
}

func BenchmarkParseConfig(b *testing.B) {
	fx := fixtureByArch(b, "deepseek_v3")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConfig(fx.Config, "config.json"); err != nil {
			b.Fatal(err)
		}
	}
}
