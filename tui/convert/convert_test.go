package convert

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
	"mlmf/tui/keymap"
	"mlmf/tui/styles"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"5GB", 5e9, true}, {"2GiB", 2 << 30, true}, {"500 mb", 500e6, true},
		{"1024", 1024, true}, {"-1GB", 0, false}, {"lots", 0, false}, {"1e300GB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func form(t *testing.T) *Model {
	return formFor(t, &common.Checkpoint{Path: "/ck/model.safetensors", Summary: &engine.Summary{Format: "safetensors"}, Vocab: true})
}

func formFor(t *testing.T, cp *common.Checkpoint) *Model {
	t.Helper()
	c := &common.Common{Styles: styles.Default(), Keys: keymap.Default()}
	m := New(c)
	m.SetSize(100, 20)
	m.Update(common.OpenedMsg{Checkpoint: cp})
	return m
}

// pick selects a target and a type by name.
func pick(t *testing.T, m *Model, target, typ string) {
	t.Helper()
	m.target = slices.Index(m.targets(), target)
	if m.target < 0 {
		t.Fatalf("no target %s", target)
	}
	if typ != "" {
		i := slices.Index(typeChoices(target), typ)
		if i < 0 {
			t.Fatalf("no type %s for %s", typ, target)
		}
		m.types[target] = i
	}
	m.refreshOutput()
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, m *Model)
		want string // error substring; "" for valid
	}{
		{"defaults", func(t *testing.T, m *Model) {}, ""},
		{"bad shard", func(t *testing.T, m *Model) { m.inputs[fieldShard].Value = "huge" }, "shard size"},
		{"empty output", func(t *testing.T, m *Model) { m.inputs[fieldOutput].Value = " " }, "output path"},
		{"output is source", func(t *testing.T, m *Model) { m.inputs[fieldOutput].Value = "/ck/model.safetensors" }, "it is the source"},
		{"single file without extension", func(t *testing.T, m *Model) { m.inputs[fieldOutput].Value = "/ck/out" }, ".safetensors"},
		{"sharded into a directory", func(t *testing.T, m *Model) {
			m.inputs[fieldShard].Value = "1GB"
			m.inputs[fieldOutput].Value = "/ck/out"
		}, ""},
		{"gguf auto", func(t *testing.T, m *Model) { pick(t, m, TargetGGUF, "auto") }, ""},
		{"gguf preset with overrides", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "Q4_K_M")
			m.inputs[fieldTensorTypes].Value = "ffn_down=Q6_K attn_.*=Q8_0"
			m.inputs[fieldOutType].Value = "Q8_0"
		}, ""},
		{"gguf overrides without preset", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "F16")
			m.inputs[fieldTensorTypes].Value = "ffn_down=Q6_K"
		}, "preset"},
		{"gguf bad regex", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "Q4_K_M")
			m.inputs[fieldTensorTypes].Value = "ffn_(down=Q6_K"
		}, "bad regular expression"},
		{"gguf bad tensor type", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "Q4_K_M")
			m.inputs[fieldTensorTypes].Value = "ffn_down=Q9_X"
		}, "tensor types"},
		{"gguf bad output type", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "Q4_K_M")
			m.inputs[fieldOutType].Value = "nope"
		}, "output type"},
		{"gguf wrong extension", func(t *testing.T, m *Model) {
			pick(t, m, TargetGGUF, "F16")
			m.inputs[fieldOutput].Value = "/ck/out.safetensors"
		}, ".gguf"},
		{"gguf vocabulary without tokenizer", func(t *testing.T, m *Model) {
			m.cp.Vocab = false
			pick(t, m, TargetGGUF, "F16")
			m.noVoc = false
		}, "no tokenizer"},
		{"hf", func(t *testing.T, m *Model) { pick(t, m, TargetHF, "BF16") }, ""},
		{"hf into a file", func(t *testing.T, m *Model) {
			pick(t, m, TargetHF, "")
			m.inputs[fieldOutput].Value = "/ck/out.safetensors"
		}, "directory"},
		{"overrides on safetensors", func(t *testing.T, m *Model) { m.inputs[fieldTensorTypes].Value = "x=Q8_0" }, "apply to gguf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := form(t)
			tc.edit(t, m)
			p, err := m.Request()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want %q", err, tc.want)
			}
			if tc.name == "defaults" && (p.Convert == nil || p.Output != "/ck/model-copy.safetensors" || p.Convert.DType != formats.Invalid) {
				t.Errorf("default request %+v", p)
			}
			if tc.name == "gguf auto" && (p.Export == nil || p.Output != "/ck/model.gguf" || p.Export.Type != formats.Invalid || p.Export.Rules != nil) {
				t.Errorf("gguf request %+v", p)
			}
			if tc.name == "gguf preset with overrides" && (p.Export == nil || p.Export.Quant == nil || len(p.Export.Quant.TensorTypes) != 2 ||
				p.Export.Quant.OutputTensorType != formats.Q8_0 || p.Output != "/ck/model-q4_k_m.gguf") {
				t.Errorf("preset request %+v", p.Export)
			}
			if tc.name == "hf" && (p.HF == nil || p.HF.DType != formats.BF16 || p.Output != "/ck/model-bf16-hf") {
				t.Errorf("hf request %+v", p)
			}
		})
	}
}

func TestGGUFSourceTargets(t *testing.T) {
	t.Parallel()
	m := formFor(t, &common.Checkpoint{Path: "/ck/model-f16.gguf", Summary: &engine.Summary{Format: "gguf"}, Vocab: true})
	if got := m.targets(); !slices.Equal(got, []string{TargetHF, TargetQuantize}) {
		t.Fatalf("targets %v", got)
	}
	pick(t, m, TargetQuantize, "Q4_K_M")
	p, err := m.Request()
	if err != nil || p.Quantize == nil || p.Output != "/ck/model-f16-q4_k_m.gguf" || p.Quantize.Input != "/ck/model-f16.gguf" {
		t.Fatalf("quantize plan %+v, %v", p, err)
	}
	m.inputs[fieldEmbType].Value = "Q9"
	if _, err := m.Request(); err == nil || !strings.Contains(err.Error(), "embedding type") {
		t.Errorf("bad embedding type: %v", err)
	}
}

// The fixer's rules reach a GGUF export and are said not to apply to the
// other targets.
func TestFixerRules(t *testing.T) {
	t.Parallel()
	m := form(t)
	fix := common.MappingFix{Arch: "llama", Rules: []common.MappingRule{{HF: "model.layers.{bid}.mlp.proj_out.weight", Canonical: "blk.{bid}.ffn_down.weight"}}}
	m.Update(common.MappingFixMsg{Checkpoint: &common.Checkpoint{}, Fix: fix}) // another checkpoint's: ignored
	if !m.fix.Empty() {
		t.Fatal("took another checkpoint's rules")
	}
	m.Update(common.MappingFixMsg{Checkpoint: m.cp, Fix: fix, Unsaved: true})
	pick(t, m, TargetGGUF, "F16")
	p, err := m.Request()
	if err != nil || p.Export.Rules == nil || len(p.Export.Rules.Rules) != 1 || p.Export.Rules.Arch != "llama" {
		t.Fatalf("plan %+v, %v", p, err)
	}
	if !strings.Contains(m.View(), "fixer: 1 rule, arch llama (unsaved)") {
		t.Errorf("view:\n%s", m.View())
	}
	pick(t, m, TargetSafetensors, "")
	if !strings.Contains(m.View(), "not applied") {
		t.Errorf("view:\n%s", m.View())
	}
}

func TestDTypeChoiceFollowsOutput(t *testing.T) {
	t.Parallel()
	m := form(t)
	m.focus = fieldType
	pick(t, m, TargetSafetensors, "BF16")
	p, err := m.Request()
	if err != nil || p.Convert.DType != formats.BF16 || p.Output != "/ck/model-bf16.safetensors" {
		t.Errorf("request %+v, %v", p, err)
	}
	// an invalid submit shows the error and starts nothing
	m.inputs[fieldShard].Value = "lots"
	if cmd := m.submit(); cmd != nil || m.err == nil {
		t.Errorf("invalid form submitted (cmd %v, err %v)", cmd != nil, m.err)
	}
}

// space and ←/→ toggle the vocabulary and drop-unmapped rows; ctrl+r puts
// back the derived output path.
func TestToggleKeys(t *testing.T) {
	t.Parallel()
	m := form(t)
	press := func(code rune, text string, mod tea.KeyMod) {
		m.Update(tea.KeyPressMsg{Code: code, Text: text, Mod: mod})
	}
	press(tea.KeyRight, "", 0) // gguf
	if m.Target() != TargetGGUF {
		t.Fatalf("target %s", m.Target())
	}
	for m.focus != fieldVocab {
		press(tea.KeyDown, "", 0)
	}
	press(tea.KeySpace, " ", 0)
	press(tea.KeyDown, "", 0)
	press(tea.KeyRight, "", 0)
	p, err := m.Request()
	if err != nil || !p.Export.NoVocab || !p.Export.DropUnmapped {
		t.Fatalf("plan %+v, %v", p.Export, err)
	}
	press(tea.KeyDown, "", 0) // output
	press('x', "x", 0)
	press(tea.KeyEnter, "", 0)
	if got := m.inputs[fieldOutput].Value; got != "/ck/model.ggufx" {
		t.Fatalf("output %q", got)
	}
	press('r', "", tea.ModCtrl)
	if got := m.inputs[fieldOutput].Value; got != "/ck/model.gguf" {
		t.Errorf("output after ctrl+r %q", got)
	}
}
