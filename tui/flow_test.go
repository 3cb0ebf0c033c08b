package tui

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/formats/gguf"
	"mlmf/internal/demo"
	"mlmf/mapping"
	"mlmf/tui/common"
	"mlmf/tui/convert"
	"mlmf/tui/sources"
)

// copyDemo extracts the demo checkpoint into a temporary directory, so a
// flow can write next to it.
func copyDemo(t *testing.T) string {
	t.Helper()
	dir, err := demo.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyRenamed copies testdata/tiny-renamed (the demo with every
// mlp.down_proj renamed mlp.proj_out) into a temporary directory, so a flow
// can save a mapping file beside it.
func copyRenamed(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-renamed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "config.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "tiny-renamed", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// open → search → inspect → fix a mapping → preview → convert → job
// finished → the output opens, against the real engine and mapping.
func TestFlowOpenSearchInspectConvert(t *testing.T) {
	t.Parallel()
	src := copyRenamed(t)
	out := filepath.Join(t.TempDir(), "tiny-f16.gguf")
	deps := testDeps(t)
	deps.Mapping, deps.Preview = sources.Mapping{}, sources.Preview{}
	h := newHarness(t, Options{Path: src, Deps: deps}, 100, 30)
	opened(h)
	if got := h.m.Active(); got != common.PaneTensors {
		t.Fatalf("after opening, pane %v is active, want Tensors", got)
	}

	// search: two q_proj tensors, highlighted, with the totals
	h.keys("/", "qproj")
	h.waitFor("search results", func() bool { q, n := h.m.tensors.Shown(); return q == "qproj" && n == 2 })
	if s := h.plain(); !strings.Contains(s, "2 of 21 tensors match") || strings.Contains(s, "mlp.up_proj") {
		t.Fatalf("search screen:\n%s", s)
	}
	if !strings.Contains(h.m.Render(), "\x1b[") {
		t.Error("no styling in the rendered screen")
	}

	// inspect the second match: stats in the background, then shown
	h.keys("<enter>", "<down>", "<enter>")
	h.waitFor("the Inspect pane", func() bool { return h.m.Active() == common.PaneInspect })
	h.waitFor("statistics", func() bool { return h.m.inspect.Stats() != nil })
	st := h.m.inspect.Stats()
	infos := h.m.cp.Infos
	name := infos[h.m.inspect.Index()].Name
	if name != "model.layers.1.self_attn.q_proj.weight" {
		t.Fatalf("inspecting %s", name)
	}
	want, err := engine.ComputeStats(context.Background(), h.m.cp.Reader, infos[h.m.inspect.Index()], engine.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mean != want.Mean || st.Std != want.Std || st.Count != 64*64 {
		t.Errorf("stats shown %+v, engine says %+v", st, want)
	}
	if u := deps.Cache.Usage(); u.Entries != 1 {
		t.Errorf("cache %+v, want the stats cached", u)
	}

	// fix the mapping: both proj_out tensors are unmapped; accepting the
	// first suggestion of one maps both (a rule over {bid})
	h.keys("4")
	if s := h.plain(); !strings.Contains(s, "2 unmapped") || !strings.Contains(s, "2 missing") {
		t.Fatalf("mapping screen:\n%s", s)
	}
	h.keys("n")
	if s := h.plain(); !strings.Contains(s, "suggestions: blk.0.ffn_down.weight") {
		t.Fatalf("no suggestion for the unmapped tensor:\n%s", s)
	}
	h.keys("<enter>")
	h.waitFor("the report to re-run", func() bool { return !h.m.mapping.Busy() })
	rep := h.m.mapping.Report()
	for _, row := range rep.Rows {
		if row.Status != "mapped" {
			t.Errorf("%s is %s after the fix", row.Name, row.Status)
		}
	}
	if len(rep.Missing) != 0 || !strings.Contains(h.plain(), "clean") {
		t.Errorf("missing %v after the fix:\n%s", rep.Missing, h.plain())
	}
	down := slices.IndexFunc(h.m.cp.Infos, func(ti formats.TensorInfo) bool { return ti.Name == "model.layers.1.mlp.proj_out.weight" })
	h.waitFor("the canonical column to follow", func() bool { return h.m.tensors.Canonical(down) == "blk.1.ffn_down.weight" })
	// save the rules beside the checkpoint; the file loads back with the
	// mapping package and maps the checkpoint cleanly
	rules := filepath.Join(src, "mapping.yaml")
	h.keys("w", "<enter>")
	h.waitFor("the rules file", func() bool { return strings.Contains(h.plain(), "saved 1 rule(s)") })
	loaded, err := mapping.LoadRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	wantRule := mapping.UserRule{HF: "model.layers.{bid}.mlp.proj_out.weight", Canonical: "blk.{bid}.ffn_down.weight", Line: 3}
	if loaded.Arch != "llama" || len(loaded.Rules) != 1 || loaded.Rules[0] != wantRule {
		t.Errorf("saved rules %+v", loaded)
	}
	mp, err := mapping.NewMapper("", nil, loaded)
	if err != nil {
		t.Fatal(err)
	}
	if r := mp.Report(h.m.cp.Infos); !r.Summary.OK {
		t.Errorf("the saved rules do not map the checkpoint: %+v", r.Summary)
	}
	// undo brings the problem back; loading the file fixes it again
	h.keys("u")
	h.waitFor("the undone report", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "2 unmapped") })
	h.keys("l", "<enter>")
	h.waitFor("the loaded rules", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "loaded 1 rule(s)") })
	if s := h.plain(); !strings.Contains(s, "0 unmapped") || !strings.Contains(s, "clean") {
		t.Errorf("after loading the rules:\n%s", s)
	}

	// preview Q8_0: per-tensor errors from the engine
	h.keys("5", "<enter>")
	h.waitFor("preview rows", func() bool {
		return strings.Contains(h.plain(), "RMSE") && strings.Contains(h.plain(), "lm_head.weight")
	})
	if err := deps.Jobs.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}

	// convert to GGUF F16 with the fixer's rules (no tokenizer: the form
	// falls back to no vocabulary and says so)
	h.keys("6", "<right>", "<down>", "<right>", "<right>")
	if s := h.plain(); !strings.Contains(s, "fixer: 1 rule") || !strings.Contains(s, "no tokenizer in the source") || !strings.Contains(s, "[none]") {
		t.Fatalf("convert form:\n%s", s)
	}
	h.keys("<down>", "<down>", "<down>", "<down>", "<down>", "<down>", "<enter>", "<ctrl+u>", out, "<enter>", "<ctrl+s>")
	h.waitFor("the jobs pane", func() bool { return h.m.Active() == common.PaneJobs })
	if err := deps.Jobs.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the job to finish on screen", func() bool { return strings.Contains(h.plain(), "(enter opens it)") })
	jobs := deps.Jobs.List()
	if len(jobs) != 2 || jobs[0].State != engine.JobDone || jobs[1].State != engine.JobDone {
		t.Fatalf("jobs %+v", jobs)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var downs int
	for _, ti := range f.Tensors() {
		if strings.HasSuffix(ti.Name, ".ffn_down.weight") {
			downs++
			if ti.DType != formats.F16 {
				t.Errorf("%s is %v, want F16", ti.Name, ti.DType)
			}
		}
	}
	if downs != 2 || len(f.Tensors()) != 21 {
		t.Errorf("output has %d tensors, %d ffn_down", len(f.Tensors()), downs)
	}
	if _, ok := f.Metadata()["tokenizer.ggml.model"]; ok {
		t.Error("a vocabulary was written for a checkpoint without tokenizer")
	}

	// enter opens the output in the TUI
	h.keys("<enter>")
	h.waitFor("the output to open", func() bool { return h.m.cp != nil && h.m.cp.Path == out })
	if h.m.cp.Summary.Format != "gguf" || !slices.ContainsFunc(h.m.cp.Infos, func(ti formats.TensorInfo) bool { return ti.Name == "blk.1.ffn_down.weight" }) {
		t.Errorf("opened %s with %d tensors", h.m.cp.Summary.Format, len(h.m.cp.Infos))
	}
	h.waitFor("recent.json to list the output", func() bool {
		recent, _ := os.ReadFile(filepath.Join(deps.ConfigDir, "recent.json"))
		return strings.Contains(string(recent), out) && strings.Contains(string(recent), src)
	})
}

// convertFlow opens a copy of the demo on the Convert pane.
func convertFlow(t *testing.T) (*harness, common.Deps, string) {
	t.Helper()
	src := copyDemo(t)
	deps := testDeps(t)
	h := newHarness(t, Options{Path: src, Deps: deps}, 100, 30)
	opened(h)
	h.keys("6")
	return h, deps, src
}

func finish(t *testing.T, h *harness, deps common.Deps) engine.JobInfo {
	t.Helper()
	h.waitFor("the jobs pane", func() bool { return h.m.Active() == common.PaneJobs })
	if err := deps.Jobs.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	jobs := deps.Jobs.List()
	if len(jobs) != 1 || jobs[0].State != engine.JobDone {
		t.Fatalf("jobs %+v; screen:\n%s", jobs, h.plain())
	}
	return jobs[0]
}

// safetensors F16: the output opens from the Jobs pane and is a valid file.
func TestFlowConvertSafetensors(t *testing.T) {
	t.Parallel()
	h, deps, _ := convertFlow(t)
	out := filepath.Join(t.TempDir(), "demo-f16.safetensors")
	h.keys("<down>", "<right>", "<right>", "<down>", "<down>", "<enter>", "<ctrl+u>", out, "<enter>", "<ctrl+s>")
	finish(t, h, deps)
	h.keys("<enter>")
	h.waitFor("the output to open", func() bool { return h.m.cp != nil && h.m.cp.Path == out })
	for _, ti := range h.m.cp.Infos {
		if ti.DType != formats.F16 {
			t.Errorf("%s is %v, want F16", ti.Name, ti.DType)
		}
	}
	if len(h.m.cp.Infos) != 21 {
		t.Errorf("output has %d tensors", len(h.m.cp.Infos))
	}
	if h.m.cp.Reader.Metadata()["format"] != "pt" {
		t.Errorf("output metadata %v lacks format=pt", h.m.cp.Reader.Metadata())
	}
}

// --to hf with the default output path (beside the source): a directory
// with config.json that opens as a checkpoint.
func TestFlowConvertHF(t *testing.T) {
	t.Parallel()
	h, deps, src := convertFlow(t)
	h.keys("<right>", "<right>", "<down>", "<right>", "<right>", "<right>") // hf, BF16
	out := src + "-bf16-hf"
	if !strings.Contains(h.plain(), out) {
		t.Fatalf("default output is not %s:\n%s", out, h.plain())
	}
	h.keys("<ctrl+s>")
	finish(t, h, deps)
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Fatal(err)
	}
	r, err := formats.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Tensors()) != 21 {
		t.Errorf("%d tensors", len(r.Tensors()))
	}
	for _, ti := range r.Tensors() {
		if ti.DType != formats.BF16 {
			t.Errorf("%s is %v, want BF16", ti.Name, ti.DType)
		}
	}
}

// A llama-quantize preset with a --tensor-type override, into a GGUF with
// the demo's vocabulary.
func TestFlowConvertPreset(t *testing.T) {
	t.Parallel()
	h, deps, src := convertFlow(t)
	h.keys("<right>", "<down>")
	for range slices.Index(convert.GGUFTypes, "Q4_K_M") {
		h.keys("<right>")
	}
	h.keys("<down>", "ffn_down=Q8_0", "<enter>", "<ctrl+s>")
	info := finish(t, h, deps)
	if !strings.Contains(info.Title, "(Q4_K_M)") {
		t.Errorf("job title %q", info.Title)
	}
	f, err := gguf.Open(src + "-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.Metadata()["tokenizer.ggml.model"]; !ok {
		t.Error("no vocabulary in the export of a checkpoint with a tokenizer")
	}
	var quantized bool
	for _, ti := range f.Tensors() {
		switch {
		case strings.HasSuffix(ti.Name, "ffn_down.weight") && ti.DType != formats.Q8_0:
			t.Errorf("%s is %v, want the override Q8_0", ti.Name, ti.DType)
		case strings.HasSuffix(ti.Name, "attn_q.weight") && ti.DType != formats.F32 && ti.DType != formats.F16:
			quantized = true
		}
	}
	if !quantized {
		t.Error("the preset quantized nothing")
	}
}

// Errors are shown in the form and start no job.
func TestFlowConvertValidation(t *testing.T) {
	t.Parallel()
	h, deps, src := convertFlow(t)
	if err := os.WriteFile(filepath.Join(src, "exists.gguf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		keys []string
		want string
	}{
		// gguf with a preset (Q4_0) and a bad regular expression in its overrides
		{[]string{"<right>", "<down>", "<left>", "<left>", "<down>", "ffn_(down=Q8_0", "<enter>", "<ctrl+s>"}, "bad regular expression"},
		// overrides cleared; an output that is not a .gguf
		{[]string{"<up>", "<enter>", "<ctrl+u>", "<enter>", "<down>", "<down>", "<down>", "<down>",
			"<enter>", "<ctrl+u>", filepath.Join(src, "model.safetensors"), "<enter>", "<ctrl+s>"}, "should end in .gguf"},
		// an output that exists is refused by the start command
		{[]string{"<up>", "<enter>", "<ctrl+u>", filepath.Join(src, "exists.gguf"), "<enter>", "<ctrl+s>"}, "remove it"},
	}
	for _, st := range steps {
		h.keys(st.keys...)
		h.waitFor(st.want, func() bool { return strings.Contains(h.plain(), st.want) })
	}
	if h.m.Active() != common.PaneConvert || len(deps.Jobs.List()) != 0 {
		t.Errorf("pane %v, jobs %+v", h.m.Active(), deps.Jobs.List())
	}
}

func TestCanonicalColumnFromMapping(t *testing.T) {
	t.Parallel()
	deps := testDeps(t)
	deps.Mapping = fakeMapping{}
	h := newHarness(t, Options{Path: demoDir, Deps: deps}, 160, 30)
	opened(h)
	if s := h.plain(); !strings.Contains(s, "CANONICAL") || !strings.Contains(s, "blk.9.x") {
		t.Errorf("canonical names missing:\n%s", s)
	}
}

func TestFlowCancelJob(t *testing.T) {
	t.Parallel()
	deps := testDeps(t)
	h := newHarness(t, Options{Path: demoDir, Deps: deps}, 100, 30)
	opened(h)
	started := make(chan struct{})
	id := deps.Jobs.Start("test", "slow job", func(ctx context.Context, p func(engine.Progress)) (any, error) {
		p(engine.Progress{Index: 1, Count: 10})
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	<-started
	h.keys("7")
	h.waitFor("the job on screen", func() bool { return strings.Contains(h.plain(), "slow job") })
	h.keys("x")
	h.waitFor("cancelled", func() bool { return strings.Contains(h.plain(), "cancelled") })
	if info, _ := deps.Jobs.Get(id); info.State != engine.JobCancelled {
		t.Errorf("job state %v", info.State)
	}
}

func TestFlowFailedJobShowsError(t *testing.T) {
	t.Parallel()
	deps := testDeps(t)
	h := newHarness(t, Options{Path: demoDir, Deps: deps}, 100, 30)
	opened(h)
	deps.Jobs.Start("test", "doomed", func(ctx context.Context, p func(engine.Progress)) (any, error) {
		return nil, io.ErrShortWrite
	})
	h.keys("7")
	h.waitFor("the failure", func() bool { return strings.Contains(h.plain(), "short write") })
	if h.m.Err() == nil {
		t.Error("no error on the status bar")
	}
}

func TestFlowOpenByPathAndBadPath(t *testing.T) {
	t.Parallel()
	src := copyDemo(t)
	h := newHarness(t, Options{Deps: testDeps(t)}, 100, 30)
	if h.m.Active() != common.PaneOpen {
		t.Fatalf("without a path the Open screen should show, got %v", h.m.Active())
	}
	// a path that does not exist: an error, the Open screen stays
	h.keys("/", filepath.Join(src, "nope.safetensors"), "<enter>")
	h.waitFor("the error", func() bool { return h.m.Err() != nil })
	if !strings.Contains(h.plain(), "Could not open") {
		t.Errorf("screen:\n%s", h.plain())
	}
	// typing a directory lists its files; enter opens the selected one
	h.keys("/", "<ctrl+u>", src+"/model.saf")
	h.waitFor("the file listing", func() bool { return strings.Contains(h.plain(), "model.safetensors") })
	h.keys("<enter>")
	h.waitFor("the file to open", func() bool { return h.m.cp != nil })
	if h.m.cp.Path != filepath.Join(src, "model.safetensors") {
		t.Errorf("opened %s", h.m.cp.Path)
	}
}

func TestQuitCancelsJobs(t *testing.T) {
	t.Parallel()
	deps := testDeps(t)
	h := newHarness(t, Options{Path: demoDir, Deps: deps}, 80, 24)
	opened(h)
	deps.Jobs.Start("test", "forever", func(ctx context.Context, p func(engine.Progress)) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, cmd := h.m.Update(parseKeys("q")[0])
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	cmd() // cancels and quits
	if err := deps.Jobs.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMouseWheelScrolls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{Path: demoDir, Deps: testDeps(t)}, 80, 12)
	opened(h)
	before := h.plain()
	h.update(wheelDown())
	h.update(wheelDown())
	h.update(wheelDown())
	after := h.plain()
	if before == after || strings.Contains(after, "lm_head") || !strings.Contains(before, "lm_head") {
		t.Errorf("wheel did not scroll:\n%s", after)
	}
}

// fakePreview stands in for the quantization engine to test the pane's job
// flow and drawing.
type fakePreview struct{}

func (fakePreview) Targets() []string { return []string{"Q8_0", "Q4_K_M"} }

func (fakePreview) Preview(ctx context.Context, c *common.Checkpoint, target string, progress func(engine.Progress)) ([]common.PreviewRow, error) {
	var rows []common.PreviewRow
	for i, t := range c.Infos {
		progress(engine.Progress{Index: i + 1, Count: len(c.Infos)})
		rows = append(rows, common.PreviewRow{Name: t.Name, From: "BF16", To: target, RMSE: float64(i) * 1e-3, SNR: 40, Cos: 0.999, BytesBefore: t.Size, BytesAft: t.Size / 2})
	}
	return rows, nil
}

func TestFlowPreviewJob(t *testing.T) {
	t.Parallel()
	deps := testDeps(t)
	deps.Preview = fakePreview{}
	h := newHarness(t, Options{Path: demoDir, Deps: deps}, 120, 30)
	opened(h)
	h.keys("5", "<right>")
	if !strings.Contains(h.plain(), "Q4_K_M") {
		t.Fatalf("target not chosen:\n%s", h.plain())
	}
	h.keys("<enter>")
	h.waitFor("preview rows", func() bool { return strings.Contains(h.plain(), "RMSE") })
	// worst tensor first
	s := h.plain()
	if i, j := strings.Index(s, "model.norm.weight"), strings.Index(s, "lm_head.weight"); i < 0 || j >= 0 && j < i {
		t.Errorf("rows not sorted by error:\n%s", s)
	}
	if jobs := deps.Jobs.List(); len(jobs) != 1 || jobs[0].Title != "preview Q4_K_M" {
		t.Errorf("jobs %+v", jobs)
	}
}

// A GGUF source is requantized with a preset (engine.Quantize).
func TestFlowQuantizeGGUF(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "demo-f16.gguf")
	if _, err := engine.ExportGGUF(context.Background(), engine.ExportRequest{Source: copyDemo(t), Output: src, Type: formats.F16}, func(engine.Progress) {}); err != nil {
		t.Fatal(err)
	}
	deps := testDeps(t)
	h := newHarness(t, Options{Path: src, Deps: deps}, 100, 30)
	h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
	h.keys("6", "<right>", "<down>") // quantize, Q8_0
	out := strings.TrimSuffix(src, ".gguf") + "-q8_0.gguf"
	if s := h.plain(); !strings.Contains(s, "[quantize]") || !strings.Contains(s, out) {
		t.Fatalf("form:\n%s", s)
	}
	h.keys("<ctrl+s>")
	info := finish(t, h, deps)
	if !strings.HasPrefix(info.Title, "quantize ") {
		t.Errorf("job title %q", info.Title)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var q8 int
	for _, ti := range f.Tensors() {
		if ti.DType == formats.Q8_0 {
			q8++
		}
	}
	if q8 == 0 || len(f.Tensors()) != 21 {
		t.Errorf("%d tensors, %d of them Q8_0", len(f.Tensors()), q8)
	}
}
