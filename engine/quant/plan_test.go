package quant

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

// The expectations below are written from reading src/llama-quant.cpp
// (commit 007dbbf3), independently of the code under test: per preset, the
// type of each tensor role, with the layer-dependent rules spelled out.

// llama3Like is a LLaMA-3-8B-shaped model: 32 layers, 32 heads, 8 KV heads
// (GQA 4), n_embd 4096, n_ff 14336, untied output. Shapes are row-major
// [rows, row length].
func llama3Like(dt formats.DType) Model {
	ts := []formats.TensorInfo{
		{Name: "token_embd.weight", DType: dt, Shape: []int64{128256, 4096}},
		{Name: "output_norm.weight", DType: formats.F32, Shape: []int64{4096}},
		{Name: "output.weight", DType: dt, Shape: []int64{128256, 4096}},
		{Name: "rope_freqs.weight", DType: formats.F32, Shape: []int64{64}},
	}
	for i := range 32 {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			formats.TensorInfo{Name: b + "attn_norm.weight", DType: formats.F32, Shape: []int64{4096}},
			formats.TensorInfo{Name: b + "attn_q.weight", DType: dt, Shape: []int64{4096, 4096}},
			formats.TensorInfo{Name: b + "attn_k.weight", DType: dt, Shape: []int64{1024, 4096}},
			formats.TensorInfo{Name: b + "attn_v.weight", DType: dt, Shape: []int64{1024, 4096}},
			formats.TensorInfo{Name: b + "attn_output.weight", DType: dt, Shape: []int64{4096, 4096}},
			formats.TensorInfo{Name: b + "ffn_norm.weight", DType: formats.F32, Shape: []int64{4096}},
			formats.TensorInfo{Name: b + "ffn_gate.weight", DType: dt, Shape: []int64{14336, 4096}},
			formats.TensorInfo{Name: b + "ffn_up.weight", DType: dt, Shape: []int64{14336, 4096}},
			formats.TensorInfo{Name: b + "ffn_down.weight", DType: dt, Shape: []int64{4096, 14336}},
		)
	}
	return Model{Arch: "llama", NLayer: 32, NHead: 32, NHeadKV: 8, Tensors: ts}
}

// mixtralLike is a Mixtral-8x7B-shaped MoE: 32 layers, 8 experts stacked in
// 3-D tensors, a router (ffn_gate_inp), GQA 4.
func mixtralLike(dt formats.DType) Model {
	ts := []formats.TensorInfo{
		{Name: "token_embd.weight", DType: dt, Shape: []int64{32000, 4096}},
		{Name: "output_norm.weight", DType: formats.F32, Shape: []int64{4096}},
		{Name: "output.weight", DType: dt, Shape: []int64{32000, 4096}},
	}
	for i := range 32 {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			formats.TensorInfo{Name: b + "attn_norm.weight", DType: formats.F32, Shape: []int64{4096}},
			formats.TensorInfo{Name: b + "attn_q.weight", DType: dt, Shape: []int64{4096, 4096}},
			formats.TensorInfo{Name: b + "attn_k.weight", DType: dt, Shape: []int64{1024, 4096}},
			formats.TensorInfo{Name: b + "attn_v.weight", DType: dt, Shape: []int64{1024, 4096}},
			formats.TensorInfo{Name: b + "attn_output.weight", DType: dt, Shape: []int64{4096, 4096}},
			formats.TensorInfo{Name: b + "ffn_norm.weight", DType: formats.F32, Shape: []int64{4096}},
			formats.TensorInfo{Name: b + "ffn_gate_inp.weight", DType: formats.F32, Shape: []int64{8, 4096}},
			formats.TensorInfo{Name: b + "ffn_gate_exps.weight", DType: dt, Shape: []int64{8, 14336, 4096}},
			formats.TensorInfo{Name: b + "ffn_up_exps.weight", DType: dt, Shape: []int64{8, 14336, 4096}},
			formats.TensorInfo{Name: b + "ffn_down_exps.weight", DType: dt, Shape: []int64{8, 4096, 14336}},
		)
	}
	return Model{Arch: "llama", NLayer: 32, NExpert: 8, NHead: 32, NHeadKV: 8, Tensors: ts}
}

// use_more_bits(i, 32): i < 4 || i >= 28 || (i-4)%3 == 2.
var moreBits32 = map[int]bool{0: true, 1: true, 2: true, 3: true, 6: true, 9: true, 12: true, 15: true,
	18: true, 21: true, 24: true, 27: true, 28: true, 29: true, 30: true, 31: true}

// role of a tensor name and its layer (-1 outside blocks).
func role(name string) (string, int) {
	l := -1
	if strings.HasPrefix(name, "blk.") {
		fmt.Sscanf(name, "blk.%d.", &l)
		name = name[strings.Index(name[4:], ".")+5:]
	}
	return strings.TrimSuffix(name, ".weight"), l
}

type expectFn func(role string, layer int) formats.DType

const (
	f32  = formats.F32
	f16  = formats.F16
	bf16 = formats.BF16
	q40  = formats.Q4_0
	q41  = formats.Q4_1
	q50  = formats.Q5_0
	q51  = formats.Q5_1
	q80  = formats.Q8_0
	q2k  = formats.Q2_K
	q3k  = formats.Q3_K
	q4k  = formats.Q4_K
	q5k  = formats.Q5_K
	q6k  = formats.Q6_K
)

func isNorm(r string) bool {
	return strings.HasSuffix(r, "_norm") || r == "rope_freqs" || r == "ffn_gate_inp"
}

// uniform: every quantizable weight gets t, output.weight gets out.
func uniform(t, out, embd formats.DType) expectFn {
	return func(r string, l int) formats.DType {
		switch {
		case isNorm(r):
			return 0 // kept
		case r == "output":
			return out
		case r == "token_embd":
			return embd
		}
		return t
	}
}

// denseExpect: llama3Like (GQA 4, no experts).
var denseExpect = map[FileType]expectFn{
	// F16/BF16: default type not quantized, no mixture, no output rule.
	F16:  uniform(f16, f16, f16),
	BF16: uniform(bf16, bf16, bf16),
	// Q8_0: output keeps Q8_0 ("new_type != Q8_0" test), everything else Q8_0.
	Q8_0: uniform(q80, q80, q80),
	Q6_K: uniform(q6k, q6k, q6k),
	// Legacy types: output -> Q6_K, the rest the default (no imatrix).
	Q4_0:   uniform(q40, q6k, q40),
	Q4_1:   uniform(q41, q6k, q41),
	Q5_0:   uniform(q50, q6k, q50),
	Q5_1:   uniform(q51, q6k, q51),
	Q5_K_S: uniform(q5k, q6k, q5k),
	// Q3_K_S has no attn_v/ffn_down/attn_output rule for dense models.
	Q3_K_S: uniform(q3k, q6k, q3k),
	Q5_K_M: func(r string, l int) formats.DType {
		switch {
		case (r == "attn_v" || r == "ffn_down") && moreBits32[l]:
			return q6k
		}
		return uniform(q5k, q6k, q5k)(r, l)
	},
	Q4_K_M: func(r string, l int) formats.DType {
		switch {
		case (r == "attn_v" || r == "ffn_down") && moreBits32[l]:
			return q6k
		}
		return uniform(q4k, q6k, q4k)(r, l)
	},
	Q4_K_S: func(r string, l int) formats.DType {
		switch {
		case r == "attn_v" && l < 4: // i_attention_wv < 4
			return q5k
		case r == "ffn_down" && l < 32/8:
			return q5k
		}
		return uniform(q4k, q6k, q4k)(r, l)
	},
	Q3_K_M: func(r string, l int) formats.DType {
		switch {
		case r == "attn_v" && l < 2:
			return q5k
		case r == "attn_v":
			return q4k
		case r == "attn_output":
			return q4k
		case r == "ffn_down" && l < 32/16:
			return q5k
		case r == "ffn_down": // arch != FALCON
			return q4k
		}
		return uniform(q3k, q6k, q3k)(r, l)
	},
	Q3_K_L: func(r string, l int) formats.DType {
		switch r {
		case "attn_v", "attn_output", "ffn_down":
			return q5k
		}
		return uniform(q3k, q6k, q3k)(r, l)
	},
	Q2_K: func(r string, l int) formats.DType {
		switch r {
		case "attn_v": // n_gqa() >= 4
			return q4k
		case "attn_output", "ffn_down":
			return q3k
		}
		return uniform(q2k, q6k, q2k)(r, l)
	},
}

// moeExpect: mixtralLike (8 experts): attn_v and attn_k -> Q8_0 in every
// k-quant / legacy preset, attn_output -> Q5_K in the listed presets,
// ffn_down by the layer in its name.
var moeExpect = map[FileType]expectFn{
	F16:    uniform(f16, f16, f16),
	BF16:   uniform(bf16, bf16, bf16),
	Q8_0:   uniform(q80, q80, q80),
	Q6_K:   moeKV(uniform(q6k, q6k, q6k)),
	Q4_0:   moeKV(uniform(q40, q6k, q40)),
	Q4_1:   moeKV(uniform(q41, q6k, q41)),
	Q5_0:   moeKV(uniform(q50, q6k, q50)),
	Q5_1:   moeKV(uniform(q51, q6k, q51)),
	Q5_K_S: moeKV(uniform(q5k, q6k, q5k)),
	Q3_K_S: moeKV(moeOut(uniform(q3k, q6k, q3k))),
	Q5_K_M: moeKV(func(r string, l int) formats.DType {
		if r == "ffn_down_exps" && moreBits32[l] {
			return q6k
		}
		return uniform(q5k, q6k, q5k)(r, l)
	}),
	Q4_K_M: moeKV(moeOut(func(r string, l int) formats.DType {
		if r == "ffn_down_exps" && moreBits32[l] {
			return q6k
		}
		return uniform(q4k, q6k, q4k)(r, l)
	})),
	Q4_K_S: moeKV(moeOut(func(r string, l int) formats.DType {
		if r == "ffn_down_exps" && l < 4 {
			return q5k
		}
		return uniform(q4k, q6k, q4k)(r, l)
	})),
	Q3_K_M: moeKV(moeOut(func(r string, l int) formats.DType {
		switch {
		case r == "ffn_down_exps" && l < 2:
			return q5k
		case r == "ffn_down_exps":
			return q4k
		}
		return uniform(q3k, q6k, q3k)(r, l)
	})),
	// Q3_K_L is not in the 8-expert attn_output list; non-Falcon 8-expert
	// models skip the dense attn_output rules.
	Q3_K_L: moeKV(func(r string, l int) formats.DType {
		if r == "ffn_down_exps" {
			return q5k
		}
		return uniform(q3k, q6k, q3k)(r, l)
	}),
	Q2_K: moeKV(moeOut(func(r string, l int) formats.DType {
		if r == "ffn_down_exps" {
			return q3k
		}
		return uniform(q2k, q6k, q2k)(r, l)
	})),
}

func moeKV(f expectFn) expectFn {
	return func(r string, l int) formats.DType {
		if r == "attn_v" || r == "attn_k" {
			return q80
		}
		return f(r, l)
	}
}

func moeOut(f expectFn) expectFn {
	return func(r string, l int) formats.DType {
		if r == "attn_output" {
			return q5k
		}
		return f(r, l)
	}
}

func checkPlan(t *testing.T, m Model, ft FileType, want expectFn, opt Options) {
	t.Helper()
	opt.FileType = ft
	ds, err := PlanModel(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(m.Tensors) {
		t.Fatalf("%d decisions for %d tensors", len(ds), len(m.Tensors))
	}
	from := map[string]formats.DType{}
	for _, ti := range m.Tensors {
		from[ti.Name] = ti.DType
	}
	bad := 0
	for _, d := range ds {
		r, l := role(d.Name)
		w := want(r, l)
		if w == 0 {
			w = from[d.Name]
		}
		if d.To != w {
			bad++
			if bad < 10 {
				t.Errorf("%v: %s: got %v (%s), want %v", ft, d.Name, d.To, d.Reason, w)
			}
		}
		if d.Reason == "" {
			t.Errorf("%s: no reason", d.Name)
		}
		if d.Fallback {
			t.Errorf("%s: unexpected fallback: %s", d.Name, d.Reason)
		}
		if d.Quantize != (d.To != d.From) {
			t.Errorf("%s: Quantize %v", d.Name, d.Quantize)
		}
	}
}

// For LLaMA-like and Mixtral-like models (no attn_qkv, no rows needing a
// fallback) the 2025 and the latest rules agree.
var ruleSets = map[string]Rules{"latest": RulesLatest, "2025": Rules2025}

func TestPresetsDense(t *testing.T) {
	for rn, rules := range ruleSets {
		for ft, want := range denseExpect {
			t.Run(rn+"/"+ft.String(), func(t *testing.T) {
				checkPlan(t, llama3Like(formats.F16), ft, want, Options{Rules: rules})
			})
		}
	}
}

func TestPresetsMoE(t *testing.T) {
	for rn, rules := range ruleSets {
		for ft, want := range moeExpect {
			t.Run(rn+"/"+ft.String(), func(t *testing.T) {
				checkPlan(t, mixtralLike(formats.BF16), ft, want, Options{Rules: rules})
			})
		}
	}
}

// phi3Like has a fused attn_qkv (Phi-3-mini shapes: 32 layers, 3072 wide,
// 32 heads without GQA), where the two rule sets differ.
func phi3Like() Model {
	ts := []formats.TensorInfo{
		{Name: "token_embd.weight", DType: formats.F16, Shape: []int64{32064, 3072}},
		{Name: "output.weight", DType: formats.F16, Shape: []int64{32064, 3072}},
	}
	for i := range 32 {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			formats.TensorInfo{Name: b + "attn_qkv.weight", DType: formats.F16, Shape: []int64{9216, 3072}},
			formats.TensorInfo{Name: b + "attn_output.weight", DType: formats.F16, Shape: []int64{3072, 3072}},
			formats.TensorInfo{Name: b + "ffn_up.weight", DType: formats.F16, Shape: []int64{16384, 3072}},
			formats.TensorInfo{Name: b + "ffn_down.weight", DType: formats.F16, Shape: []int64{3072, 8192}},
		)
	}
	return Model{Arch: "phi3", NLayer: 32, NHead: 32, NHeadKV: 32, Tensors: ts}
}

func TestAttnQKVRules(t *testing.T) {
	for _, c := range []struct {
		rules Rules
		ft    FileType
		want  func(l int) formats.DType
	}{
		// latest: attn_qkv takes the attn_v rules (use_more_bits over
		// n_attention_wv = 32 counted qkv tensors).
		{RulesLatest, Q4_K_M, func(l int) formats.DType {
			if moreBits32[l] {
				return q6k
			}
			return q4k
		}},
		{RulesLatest, Q3_K_M, func(l int) formats.DType {
			if l < 2 {
				return q5k
			}
			return q4k
		}},
		{RulesLatest, Q5_K_S, func(int) formats.DType { return q5k }},
		// 2025: its own branch.
		{Rules2025, Q4_K_M, func(int) formats.DType { return q5k }},
		{Rules2025, Q5_K_M, func(int) formats.DType { return q6k }},
		{Rules2025, Q3_K_M, func(int) formats.DType { return q4k }},
		{Rules2025, Q5_K_S, func(int) formats.DType { return q5k }},
	} {
		ds, err := PlanModel(phi3Like(), Options{FileType: c.ft, Rules: c.rules})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			r, l := role(d.Name)
			if r == "attn_qkv" && d.To != c.want(l) {
				t.Errorf("rules %d %v: %s: %v (%s), want %v", c.rules, c.ft, d.Name, d.To, d.Reason, c.want(l))
			}
		}
	}
}

func TestRules2025Differences(t *testing.T) {
	find := func(ds []Decision, name string) Decision {
		for _, d := range ds {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no decision for %s", name)
		return Decision{}
	}
	m := llama3Like(formats.F32)
	// --tensor-type after the mixture, last match wins, counters advance.
	a, _ := ParseTensorType(`ffn_down=q5_k`)
	b, _ := ParseTensorType(`blk\.[0-3]\.ffn_down=q8_0`)
	ds, err := PlanModel(m, Options{FileType: Q4_K_M, Rules: Rules2025, TensorTypes: []TensorType{b, a}})
	if err != nil {
		t.Fatal(err)
	}
	if d := find(ds, "blk.1.ffn_down.weight"); d.To != q5k {
		t.Errorf("last match should win: %+v", d)
	}
	ds, _ = PlanModel(m, Options{FileType: Q4_K_M, Rules: Rules2025, TensorTypes: []TensorType{b}})
	if d := find(ds, "blk.1.ffn_down.weight"); d.To != q80 {
		t.Errorf("override: %+v", d)
	}
	// blk.5 is layer 5: not a use_more_bits layer, Q4_K (latest: layer 1, Q6_K).
	if d := find(ds, "blk.5.ffn_down.weight"); d.To != q4k {
		t.Errorf("blk.5: %+v", d)
	}
	// --pure ignores --tensor-type in 2025.
	ds, _ = PlanModel(m, Options{FileType: Q4_K_M, Rules: Rules2025, Pure: true, TensorTypes: []TensorType{b}})
	if d := find(ds, "blk.1.ffn_down.weight"); d.To != q4k {
		t.Errorf("pure with override: %+v", d)
	}
	// Q2_K falls back to IQ4_NL in 2025.
	fb := Model{Arch: "llama", NLayer: 1, Tensors: []formats.TensorInfo{{Name: "blk.0.attn_q.weight", DType: formats.F32, Shape: []int64{2880, 2880}}}}
	ds, _ = PlanModel(fb, Options{FileType: Q2_K, Rules: Rules2025})
	if d := ds[0]; d.To != formats.IQ4_NL || !d.Fallback {
		t.Errorf("2025 Q2_K fallback: %+v", d)
	}
	ds, _ = PlanModel(fb, Options{FileType: Q2_K})
	if d := ds[0]; d.To != q40 || !d.Fallback {
		t.Errorf("latest Q2_K fallback: %+v", d)
	}
	// IQ3_XXS tensors need no importance matrix in 2025 (phi3Like has no
	// attn_q/attn_k, which get IQ2_S, needed in both).
	if ds, err := PlanModel(phi3Like(), Options{FileType: IQ3_XXS, Rules: Rules2025}); err != nil {
		t.Errorf("2025 IQ3_XXS: %v", err)
	} else if d := find(ds, "blk.3.ffn_up.weight"); d.To != formats.IQ3_XXS || d.RequiresImatrix {
		t.Errorf("2025 IQ3_XXS ffn_up: %+v", d)
	}
	if _, err := PlanModel(phi3Like(), Options{FileType: IQ3_XXS}); err == nil || !strings.Contains(err.Error(), "IQ3_XXS needs an importance matrix") {
		t.Errorf("latest IQ3_XXS without imatrix: %v", err)
	}
	if _, err := PlanModel(m, Options{Rules: 7}); err == nil {
		t.Error("unknown rule set accepted")
	}
}

func TestRequiredPresetsCovered(t *testing.T) {
	for _, name := range []string{"F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S",
		"Q3_K_M", "Q3_K_S", "Q3_K_L", "Q2_K", "Q4_0", "Q4_1", "Q5_0", "Q5_1"} {
		ft, err := ParseFileType(strings.ToLower(name))
		if err != nil {
			t.Fatal(err)
		}
		if ft.String() != name {
			t.Errorf("%s parses to %v", name, ft)
		}
		if denseExpect[ft] == nil || moeExpect[ft] == nil {
			t.Errorf("%s has no expectation table", name)
		}
	}
}

func TestFileTypeIDs(t *testing.T) {
	// LLAMA_FTYPE_* from include/llama.h.
	ids := map[string]int{"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10,
		"Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17,
		"Q6_K": 18, "IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24,
		"IQ4_NL": 25, "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ4_XS": 30, "IQ1_M": 31,
		"BF16": 32, "TQ1_0": 36, "TQ2_0": 37, "MXFP4_MOE": 38, "Q4_K": 15, "Q5_K": 17, "Q3_K": 12}
	for name, id := range ids {
		ft, err := ParseFileType(name)
		if err != nil || int(ft) != id {
			t.Errorf("%s: %d %v, want %d", name, ft, err, id)
		}
		if byID, err := ParseFileType(fmt.Sprint(id)); err != nil || byID != ft {
			t.Errorf("%d: %v %v", id, byID, err)
		}
	}
	if _, err := ParseFileType("Q4_K_X"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestOrderIsLlamaLoaderOrder(t *testing.T) {
	m := llama3Like(formats.F16)
	ds, err := PlanModel(m, Options{FileType: Q4_K_M})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"output.weight", "output_norm.weight", "rope_freqs.weight", "token_embd.weight",
		"blk.0.attn_k.weight", "blk.0.attn_norm.weight", "blk.0.attn_output.weight", "blk.0.attn_q.weight",
		"blk.0.attn_v.weight", "blk.0.ffn_down.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_norm.weight",
		"blk.0.ffn_up.weight", "blk.1.attn_k.weight"}
	for i, w := range want {
		if ds[i].Name != w {
			t.Fatalf("decision %d is %s, want %s", i, ds[i].Name, w)
		}
	}
	// blk.10 comes after blk.9 (by layer number, not by string).
	var seen []string
	for _, d := range ds {
		if strings.HasSuffix(d.Name, "attn_q.weight") {
			seen = append(seen, d.Name)
		}
	}
	if seen[9] != "blk.9.attn_q.weight" || seen[10] != "blk.10.attn_q.weight" {
		t.Errorf("order %v", seen[8:12])
	}
}

func TestOptions(t *testing.T) {
	m := llama3Like(formats.F32)
	find := func(ds []Decision, name string) Decision {
		for _, d := range ds {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no decision for %s", name)
		return Decision{}
	}
	t.Run("pure", func(t *testing.T) {
		ds, err := PlanModel(m, Options{FileType: Q4_K_M, Pure: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.From != formats.F32 || strings.HasSuffix(d.Name, "norm.weight") || d.Name == "rope_freqs.weight" {
				continue
			}
			// --pure skips even the output rule: output.weight gets Q4_K too.
			if d.To != q4k {
				t.Errorf("%s: %v (%s)", d.Name, d.To, d.Reason)
			}
		}
	})
	t.Run("output and embedding types", func(t *testing.T) {
		ds, err := PlanModel(m, Options{FileType: Q4_K_M, OutputTensorType: q80, TokenEmbeddingType: formats.F16})
		if err != nil {
			t.Fatal(err)
		}
		if d := find(ds, "output.weight"); d.To != q80 || !strings.Contains(d.Reason, "--output-tensor-type") {
			t.Errorf("output: %+v", d)
		}
		if d := find(ds, "token_embd.weight"); d.To != formats.F16 {
			t.Errorf("token_embd: %+v", d)
		}
	})
	t.Run("leave output tensor", func(t *testing.T) {
		ds, err := PlanModel(m, Options{FileType: Q4_K_M, LeaveOutputTensor: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := find(ds, "output.weight"); d.To != formats.F32 || d.Quantize {
			t.Errorf("output: %+v", d)
		}
	})
	t.Run("tensor type regex", func(t *testing.T) {
		tt, err := ParseTensorType("ATTN_Q=q8_0")
		if err != nil {
			t.Fatal(err)
		}
		tt2, _ := ParseTensorType(`blk\.[0-3]\.ffn_down=q5_k`)
		ds, err := PlanModel(m, Options{FileType: Q4_K_M, TensorTypes: []TensorType{tt, tt2}})
		if err != nil {
			t.Fatal(err)
		}
		if d := find(ds, "blk.7.attn_q.weight"); d.To != q80 || !strings.Contains(d.Reason, "--tensor-type attn_q=Q8_0") {
			t.Errorf("attn_q: %+v", d)
		}
		// A manual override skips the mixture: blk.1.ffn_down would be Q6_K.
		if d := find(ds, "blk.1.ffn_down.weight"); d.To != q5k {
			t.Errorf("blk.1.ffn_down: %+v", d)
		}
		// llama.cpp quirk, reproduced: overridden tensors do not advance the
		// i_ffn_down counter, so blk.4 is counted as layer 0, blk.5 as layer
		// 1 … and use_more_bits shifts by four layers.
		if d := find(ds, "blk.5.ffn_down.weight"); d.To != q6k || !strings.Contains(d.Reason, "layer 1 of 32") {
			t.Errorf("blk.5.ffn_down: %+v", d)
		}
		if d := find(ds, "blk.8.ffn_down.weight"); d.To != q4k || !strings.Contains(d.Reason, "layer 4 of 32") {
			t.Errorf("blk.8.ffn_down: %+v", d)
		}
		// Overrides only apply to quantized default types (llama.cpp).
		ds, _ = PlanModel(m, Options{FileType: F16, TensorTypes: []TensorType{tt}})
		if d := find(ds, "blk.7.attn_q.weight"); d.To != f16 {
			t.Errorf("F16 with override: %+v", d)
		}
	})
	t.Run("imatrix changes Q4_0 ffn_down", func(t *testing.T) {
		ds, _ := PlanModel(m, Options{FileType: Q4_0, HasImatrix: true})
		if d := find(ds, "blk.3.ffn_down.weight"); d.To != q41 {
			t.Errorf("blk.3: %+v", d)
		}
		if d := find(ds, "blk.4.ffn_down.weight"); d.To != q40 {
			t.Errorf("blk.4: %+v", d)
		}
	})
	t.Run("tied embeddings take the output rule", func(t *testing.T) {
		mm := llama3Like(formats.F16)
		mm.Tensors = append(mm.Tensors[:2], mm.Tensors[3:]...) // drop output.weight
		ds, _ := PlanModel(mm, Options{FileType: Q4_K_M})
		if d := find(ds, "token_embd.weight"); d.To != q6k {
			t.Errorf("tied token_embd: %+v", d)
		}
	})
	t.Run("requantize", func(t *testing.T) {
		q := llama3Like(formats.Q8_0)
		if _, err := PlanModel(q, Options{FileType: Q4_K_M}); err == nil || !strings.Contains(err.Error(), "requantizing from type Q8_0 is disabled") {
			t.Errorf("requantize: %v", err)
		}
		if _, err := PlanModel(q, Options{FileType: Q4_K_M, AllowRequantize: true}); err != nil {
			t.Error(err)
		}
		// Same type: copied, no requantization.
		ds, err := PlanModel(q, Options{FileType: Q8_0})
		if err != nil {
			t.Fatal(err)
		}
		if d := find(ds, "blk.0.attn_q.weight"); d.Quantize {
			t.Errorf("Q8_0 -> Q8_0 quantizes: %+v", d)
		}
	})
	t.Run("copy", func(t *testing.T) {
		ds, _ := PlanModel(m, Options{FileType: AllF32, OnlyCopy: true})
		for _, d := range ds {
			if d.Quantize {
				t.Errorf("%s quantized in COPY", d.Name)
			}
		}
	})
	t.Run("imatrix required", func(t *testing.T) {
		if _, err := PlanModel(m, Options{FileType: IQ2_XXS}); err == nil || !strings.Contains(err.Error(), "needs an importance matrix") {
			t.Errorf("IQ2_XXS without imatrix: %v", err)
		}
		ds, err := PlanModel(m, Options{FileType: IQ2_XXS, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := find(ds, "blk.9.attn_q.weight"); !d.RequiresImatrix || d.To != formats.IQ2_XXS {
			t.Errorf("attn_q: %+v", d)
		}
		if d := find(ds, "output.weight"); d.RequiresImatrix || d.To != q5k {
			t.Errorf("output: %+v", d)
		}
	})
}

func TestFallbacks(t *testing.T) {
	mk := func(cols int64) Model {
		m := Model{Arch: "llama", NLayer: 1, NHead: 8, NHeadKV: 8, Tensors: []formats.TensorInfo{
			{Name: "blk.0.attn_q.weight", DType: formats.F32, Shape: []int64{cols, cols}},
			{Name: "blk.0.ffn_down.weight", DType: formats.F32, Shape: []int64{cols, cols}},
		}}
		if cols%32 == 0 {
			// output.weight gets Q8_0 when its row does not fit the default
			// type's block; a row not divisible by 32 fails in llama.cpp
			// (no fallback is defined for Q8_0), tested below.
			m.Tensors = append(m.Tensors, formats.TensorInfo{Name: "output.weight", DType: formats.F32, Shape: []int64{1000, cols}})
		}
		return m
	}
	cases := []struct {
		ft    FileType
		cols  int64
		attnQ formats.DType
		out   formats.DType
		fb    bool
	}{
		{Q4_K_M, 2880, q50, q80, true},            // gpt-oss width: 2880 % 256 = 64
		{Q5_K_S, 2880, q51, q80, true},            // Q5_K -> Q5_1
		{Q6_K, 2880, q80, q80, true},              // Q6_K -> Q8_0
		{Q2_K, 2880, q40, q80, true},              // Q2_K -> Q4_0 (older builds: IQ4_NL)
		{Q3_K_S, 2880, q40, q80, true},            // Q3_K -> Q4_0
		{Q4_K_M, 100, f16, q80, true},             // neither 256 nor 32: F16
		{Q4_0, 100, f16, q80, true},               // Q4_0 has no fallback... see below
		{Q4_K_M, 4096, q4k, q6k, false},           // divisible: no fallback
		{IQ4_XS, 2880, formats.IQ4_NL, q80, true}, // IQ4_XS -> IQ4_NL
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%d", c.ft, c.cols), func(t *testing.T) {
			ds, err := PlanModel(mk(c.cols), Options{FileType: c.ft})
			if c.ft == Q4_0 {
				// tensor_type_fallback has no case for Q4_0: llama.cpp throws
				// "no tensor type fallback is defined for type q4_0".
				if err == nil || !strings.Contains(err.Error(), "llama.cpp defines no fallback for Q4_0") {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Decision{}
			for _, d := range ds {
				byName[d.Name] = d
			}
			if d := byName["blk.0.attn_q.weight"]; d.To != c.attnQ || d.Fallback != c.fb {
				t.Errorf("attn_q: %+v", d)
			}
			if d, ok := byName["output.weight"]; ok && d.To != c.out {
				t.Errorf("output: %+v", d)
			}
		})
	}
	// output.weight with rows of 100: the output rule picks Q8_0, which has
	// no fallback: llama.cpp throws, so do we.
	m := mk(100)
	m.Tensors = append(m.Tensors, formats.TensorInfo{Name: "output.weight", DType: formats.F32, Shape: []int64{10, 100}})
	if _, err := PlanModel(m, Options{FileType: Q4_K_M}); err == nil || !strings.Contains(err.Error(), `tensor "output.weight": row of 100 is not a multiple of Q8_0's block of 32`) {
		t.Errorf("output of 100: %v", err)
	}
	// An explicit type that cannot apply is an error, not a fallback.
	if _, err := PlanModel(mk(2880), Options{FileType: Q8_0, OutputTensorType: q6k}); err == nil || !strings.Contains(err.Error(), "--output-tensor-type asks for Q6_K") {
		t.Errorf("explicit output type: %v", err)
	}
	tt, _ := ParseTensorType("attn_q=q4_k")
	if _, err := PlanModel(mk(2880), Options{FileType: Q8_0, TensorTypes: []TensorType{tt}}); err == nil || !strings.Contains(err.Error(), "--tensor-type attn_q asks for Q4_K") {
		t.Errorf("explicit tensor type: %v", err)
	}
}

func TestQuantizeOrNot(t *testing.T) {
	m := Model{Arch: "bert", NLayer: 1, Tensors: []formats.TensorInfo{
		{Name: "position_embd.weight", DType: formats.F32, Shape: []int64{512, 256}},
		{Name: "token_types.weight", DType: formats.F32, Shape: []int64{2, 256}},
		{Name: "blk.0.attn_output_norm.weight", DType: formats.F32, Shape: []int64{256}},
		{Name: "blk.0.attn_q.bias", DType: formats.F32, Shape: []int64{256, 256}},
		{Name: "blk.0.ffn_gate_inp.weight", DType: formats.F32, Shape: []int64{8, 256}},
		{Name: "blk.0.ssm_conv1d.weight", DType: formats.F32, Shape: []int64{4, 256}},
		{Name: "blk.0.attn_rel_b.weight", DType: formats.F32, Shape: []int64{32, 256}},
		{Name: "blk.0.row.weight", DType: formats.F32, Shape: []int64{1, 256}}, // ggml_n_dims 1
		{Name: "blk.0.attn_q.weight", DType: formats.F32, Shape: []int64{256, 256}},
	}}
	ds, err := PlanModel(m, Options{FileType: Q8_0})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		want := d.Name == "blk.0.attn_q.weight"
		if d.Quantize != want {
			t.Errorf("%s: quantize %v (%s)", d.Name, d.Quantize, d.Reason)
		}
		if !want && !strings.HasPrefix(d.Reason, "kept: ") {
			t.Errorf("%s: reason %q", d.Name, d.Reason)
		}
	}
}

func TestMoELayerFromName(t *testing.T) {
	m := mixtralLike(formats.F16)
	m.Tensors = append(m.Tensors, formats.TensorInfo{Name: "blk.x.ffn_down_exps.weight", DType: formats.F16, Shape: []int64{8, 4096, 14336}})
	if _, err := PlanModel(m, Options{FileType: Q4_K_M}); err == nil || !strings.Contains(err.Error(), "failed to determine the layer") {
		t.Errorf("unparsable layer: %v", err)
	}
	m = mixtralLike(formats.F16)
	m.Tensors = append(m.Tensors, formats.TensorInfo{Name: "blk.40.ffn_up_exps.weight", DType: formats.F16, Shape: []int64{8, 14336, 4096}})
	if _, err := PlanModel(m, Options{FileType: Q4_K_M}); err == nil || !strings.Contains(err.Error(), "bad layer 40") {
		t.Errorf("layer out of range: %v", err)
	}
}

func TestMXFP4MoE(t *testing.T) {
	ds, err := PlanModel(mixtralLike(formats.BF16), Options{FileType: MXFP4_MOE})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		r, _ := role(d.Name)
		var want formats.DType
		switch {
		case isNorm(r):
			want = d.From
		case strings.HasSuffix(r, "_exps"):
			want = formats.MXFP4
		default:
			want = q80 // output too
		}
		if d.To != want {
			t.Errorf("%s: %v, want %v", d.Name, d.To, want)
		}
	}
}

func TestParseTensorType(t *testing.T) {
	for _, bad := range []string{"attn_q", "=q4_0", "attn_q=", "attn_q=q9_9", "attn_q=U8"} {
		if _, err := ParseTensorType(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := PlanModel(llama3Like(formats.F16), Options{FileType: Q4_0, TensorTypes: []TensorType{{Pattern: "(", Type: q80}}}); err == nil {
		t.Error("bad regex accepted")
	}
}

func TestOutputMetadata(t *testing.T) {
	in := []gguf.KV{
		gguf.String("general.architecture", "llama"),
		gguf.Uint32("general.file_type", 1),
		gguf.Uint32("llama.block_count", 32),
		gguf.Uint16(gguf.KeySplitNo, 0),
		gguf.String("tokenizer.chat_template", "x"),
	}
	ov, _ := gguf.ParseOverride("llama.block_count=int:30")
	got := OutputMetadata(in, Q4_K_M, []gguf.KV{ov}, &ImatrixInfo{File: "imatrix.gguf", Datasets: []string{"wiki"}, Entries: 224, ChunkCount: 100})
	var keys []string
	for _, kv := range got {
		keys = append(keys, kv.Key)
	}
	want := []string{"general.architecture", "tokenizer.chat_template", "general.quantization_version", "general.file_type",
		"llama.block_count", "quantize.imatrix.file", "quantize.imatrix.dataset", "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys %v\nwant %v", keys, want)
	}
	if got[3].Value != uint32(15) || got[4].Value != uint32(30) || got[2].Value != uint32(2) {
		t.Errorf("values %v %v %v", got[2], got[3], got[4])
	}
	if len(in) != 5 || in[1].Value != uint32(1) {
		t.Error("input modified")
	}
}
