package tui

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/safetensors"
	"mlmf/mapping"
)

func fixerHarness(t *testing.T) *harness {
	t.Helper()
	deps := testDeps(t)
	realMapping(&deps)
	h := newHarness(t, Options{Path: renamedDir, Deps: deps}, 100, 30)
	opened(h)
	h.keys("4")
	return h
}

// Typing a target with completion maps the tensor of every block.
func TestMappingTypedTarget(t *testing.T) {
	t.Parallel()
	h := fixerHarness(t)
	h.keys("n", "e", "ffndwn")
	h.waitFor("completions", func() bool { return strings.Contains(h.plain(), "blk.{bid}.ffn_down.weight") })
	h.keys("<enter>")
	h.waitFor("the report", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "clean") })
	fix := h.m.mapping.Fix()
	if len(fix.Rules) != 1 || fix.Rules[0].HF != "model.layers.{bid}.mlp.proj_out.weight" || fix.Rules[0].Canonical != "blk.{bid}.ffn_down.weight" {
		t.Errorf("rules %+v", fix.Rules)
	}
	for _, row := range h.m.mapping.Report().Rows {
		if row.Status != "mapped" {
			t.Errorf("%s is %s", row.Name, row.Status)
		}
	}
}

// A target that cannot make a rule reports an error and changes nothing.
func TestMappingBadTarget(t *testing.T) {
	t.Parallel()
	h := fixerHarness(t)
	h.keys("g", "e", "blk.{bid}.attn_q.weight", "<enter>") // lm_head.weight is in no block
	h.waitFor("the error", func() bool { return h.m.Err() != nil })
	if !strings.Contains(h.m.Err().Error(), "{bid}") || len(h.m.mapping.Fix().Rules) != 0 {
		t.Errorf("err %v, rules %+v", h.m.Err(), h.m.mapping.Fix().Rules)
	}
}

// Switching the architecture re-runs the report under the chosen one; undo
// goes back.
func TestMappingSwitchArch(t *testing.T) {
	t.Parallel()
	h := fixerHarness(t)
	names := mapping.Names()
	from, to := slices.Index(names, "llama"), slices.Index(names, "gpt2")
	h.keys("a")
	for range from - to {
		h.keys("<up>")
	}
	h.keys("<enter>")
	h.waitFor("the gpt2 report", func() bool { return !h.m.mapping.Busy() && h.m.mapping.Report().Architecture == "gpt2" })
	if s := h.plain(); !strings.Contains(s, "20 unmapped") || !strings.Contains(s, "chosen by the user") {
		t.Errorf("a LLaMA checkpoint under gpt2:\n%s", s)
	}
	h.keys("u")
	h.waitFor("llama again", func() bool { return !h.m.mapping.Busy() && h.m.mapping.Report().Architecture == "llama" })
}

// Without a detected architecture the pane offers the picker, and choosing
// one gives a report.
func TestMappingUndetectedArch(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "odd.safetensors")
	ts := []formats.Tensor{
		{Name: "foo.weight", DType: formats.F32, Shape: []int64{2}, Data: formats.BytesData(make([]byte, 8))},
		{Name: "bar.weight", DType: formats.F32, Shape: []int64{2}, Data: formats.BytesData(make([]byte, 8))},
	}
	if err := safetensors.WriteFile(context.Background(), p, ts, nil); err != nil {
		t.Fatal(err)
	}
	deps := testDeps(t)
	realMapping(&deps)
	h := newHarness(t, Options{Path: p, Deps: deps}, 100, 30)
	h.waitFor("the checkpoint", func() bool { return h.m.cp != nil })
	h.keys("4")
	if s := h.plain(); !strings.Contains(s, "architecture not detected") || !strings.Contains(s, "a chooses the architecture") {
		t.Fatalf("screen:\n%s", s)
	}
	h.keys("a", "<enter>") // the first registered architecture
	h.waitFor("a report", func() bool { return !h.m.mapping.Busy() && h.m.mapping.Report() != nil })
	if got, want := h.m.mapping.Report().Architecture, mapping.Names()[0]; got != want {
		t.Errorf("architecture %q, want %q", got, want)
	}
	if s := h.plain(); !strings.Contains(s, "2 unmapped") {
		t.Errorf("screen:\n%s", s)
	}
}
