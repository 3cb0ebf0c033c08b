package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mlmf/engine"
	"mlmf/gpu"
	"mlmf/tui/common"
	"mlmf/tui/convert"
	"mlmf/tui/sources"
)

type fakeGPU struct{}

func (fakeGPU) Snapshot() (gpu.Snapshot, error) {
	return gpu.Snapshot{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Driver: "570.86", Devices: []gpu.Device{
		{Index: 0, Name: "NVIDIA H100 80GB HBM3", MemUsed: 20 << 30, MemTotal: 80 << 30, Util: 37, TempC: 41, PowerW: 180, PowerLimitW: 700},
		{Index: 1, Name: "NVIDIA H100 80GB HBM3", MemUsed: 1 << 30, MemTotal: 80 << 30, Util: -1, TempC: -1, PowerW: -1, PowerLimitW: -1},
	}}, nil
}
func (fakeGPU) Close() error { return nil }

// fakeMapping stands in for the mapping package to test the pane's drawing.
type fakeMapping struct{}

func (fakeMapping) Report(_ context.Context, c *common.Checkpoint) (*common.MappingReport, error) {
	r := &common.MappingReport{Architecture: "llama", Reason: "config.json architectures"}
	for i, t := range c.Infos {
		row := common.MappingRow{Name: t.Name, Canonical: fmt.Sprintf("blk.%d.x", i), Status: "mapped"}
		if i == 3 {
			row.Status, row.Canonical, row.Suggestions = "unmapped", "", []string{"blk.{bid}.ffn_down.weight"}
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

type screen struct {
	name string
	deps func(*common.Deps)
	path string
	// drive brings the app to the screen; nil leaves it where opening put it.
	drive func(h *harness)
}

func opened(h *harness) {
	h.waitFor("the demo to open", func() bool {
		return h.m.cp != nil && h.m.tensors.Query() == "" && strings.Contains(h.plain(), "lm_head.weight")
	})
}

// renamedDir has two unmapped tensors (mlp.proj_out for mlp.down_proj);
// tinyGGUF is a two-key GGUF file. Golden screens only read them.
const (
	renamedDir = "../testdata/tiny-renamed"
	tinyGGUF   = "../formats/gguf/testdata/tiny.gguf"
)

func realMapping(d *common.Deps) { d.Mapping = sources.Mapping{} }

func screens() []screen {
	return []screen{
		{name: "open-empty"},
		{name: "opening", drive: func(h *harness) {
			h.m.Update(common.OpenMsg{Path: demoDir}) // its command is dropped: stays "opening"
		}},
		{name: "open-failed", path: "testdata/missing.safetensors", drive: func(h *harness) {
			h.waitFor("the failure", func() bool { return h.m.err != nil })
		}},
		{name: "open-recent", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("o")
		}},
		{name: "tensors", path: demoDir, drive: opened},
		{name: "tensors-search", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("/", "qproj")
			h.waitFor("results", func() bool { q, _ := h.m.tensors.Shown(); return q == "qproj" })
		}},
		{name: "tensors-sort-size", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("ss")
		}},
		{name: "tensors-tree", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("t", "<down>", "<down>", "<space>")
		}},
		{name: "inspect", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("<down>", "<down>", "<down>", "<enter>")
			h.waitFor("stats", func() bool { return h.m.inspect.Stats() != nil })
		}},
		{name: "metadata", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("3", "<down>")
		}},
		{name: "mapping-unavailable", path: demoDir, drive: func(h *harness) { opened(h); h.keys("4") }},
		{name: "mapping", path: demoDir, deps: func(d *common.Deps) { d.Mapping = fakeMapping{} }, drive: func(h *harness) {
			opened(h)
			h.keys("4")
			if !strings.Contains(h.plain(), "Architecture: llama") {
				h.t.Fatalf("no report:\n%s", h.plain())
			}
			h.keys("<down>", "<down>", "<down>")
		}},
		{name: "mapping-fix", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "n", "<right>")
		}},
		{name: "mapping-fix-target", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "n", "e", "ffndwn")
			h.waitFor("completions", func() bool { return strings.Contains(h.plain(), "blk.{bid}.ffn_down.weight") })
		}},
		{name: "mapping-fix-accepted", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "n", "<enter>")
			h.waitFor("the clean report", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "clean") })
		}},
		{name: "mapping-arch", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "a", "<down>")
		}},
		{name: "mapping-save", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "n", "<enter>")
			h.waitFor("the clean report", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "clean") })
			h.keys("w")
		}},
		{name: "metadata-gguf", path: tinyGGUF, drive: func(h *harness) {
			h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
			h.keys("3", "<down>")
		}},
		{name: "metadata-edit", path: tinyGGUF, drive: func(h *harness) {
			h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
			h.keys("3", "<down>", "e", "<bs>", "4")
		}},
		{name: "metadata-confirm", path: tinyGGUF, drive: func(h *harness) {
			h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
			h.keys("3", "a", "general.name=str:tiny", "<enter>")
		}},
		{name: "tensors-mapped", path: demoDir, deps: func(d *common.Deps) { d.Mapping = fakeMapping{} }, drive: opened},
		{name: "preview-unavailable", path: demoDir, drive: func(h *harness) { opened(h); h.keys("5") }},
		{name: "convert", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("6", "<down>", "<right>")
		}},
		{name: "convert-invalid", path: demoDir, drive: func(h *harness) {
			opened(h)
			// F16 takes no per-tensor types: the form says so and starts nothing
			h.keys("6", "<right>", "<down>", "<right>", "<right>", "<right>", "<down>", "ffn_down=Q6_K", "<enter>", "<ctrl+s>")
		}},
		{name: "convert-gguf", path: renamedDir, deps: realMapping, drive: func(h *harness) {
			opened(h)
			h.keys("4", "n", "<enter>")
			h.waitFor("the clean report", func() bool { return !h.m.mapping.Busy() && strings.Contains(h.plain(), "clean") })
			h.settle()
			h.keys("6", "<right>", "<down>", "<right>", "<right>")
		}},
		{name: "convert-preset", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("6", "<right>", "<down>")
			for range slices.Index(convert.GGUFTypes, "Q4_K_M") {
				h.keys("<right>")
			}
			h.keys("<down>", "ffn_down=Q6_K", "<enter>", "Q8_0", "<enter>")
		}},
		{name: "convert-hf", path: demoDir, drive: func(h *harness) {
			opened(h)
			h.keys("6", "<right>", "<right>", "<down>", "<right>", "<right>")
		}},
		{name: "convert-quantize", path: tinyGGUF, drive: func(h *harness) {
			h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
			h.keys("6", "<right>", "<down>", "<right>", "<right>", "<right>")
		}},
		{name: "jobs-empty", path: demoDir, drive: func(h *harness) { opened(h); h.keys("7") }},
		{name: "jobs", path: demoDir, drive: func(h *harness) {
			opened(h)
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			for _, ev := range []engine.Event{
				{Job: 1, Kind: engine.EventStarted, Title: "convert demo → demo-f16.safetensors (F16)", At: at},
				{Job: 1, Kind: engine.EventDone, Title: "convert demo → demo-f16.safetensors (F16)", Result: &engine.ConvertResult{Files: []string{"out/demo-f16.safetensors"}},
					Progress: engine.Progress{Index: 21, Count: 21, Bytes: 235930, TotalBytes: 235930, Elapsed: 120 * time.Millisecond}},
				{Job: 2, Kind: engine.EventStarted, Title: "convert big → big-bf16 (BF16)", At: at},
				{Job: 2, Kind: engine.EventFailed, Title: "convert big → big-bf16 (BF16)", Err: errors.New("write out/big-bf16: no space left on device"),
					Progress: engine.Progress{Index: 3, Count: 10, Bytes: 3 << 30, TotalBytes: 10 << 30, Elapsed: 6 * time.Second}},
				{Job: 3, Kind: engine.EventStarted, Title: "convert huge → huge-f16 (F16)", At: at},
				{Job: 3, Kind: engine.EventProgress, Progress: engine.Progress{Tensor: "model.layers.7.mlp.up_proj.weight", Index: 40, Count: 100, Bytes: 4 << 30, TotalBytes: 10 << 30, Elapsed: 8 * time.Second}},
			} {
				h.update(common.EventMsg{Event: ev})
			}
			h.keys("7")
		}},
		{name: "gpu-none", path: demoDir, deps: func(d *common.Deps) {
			d.GPUErr = fmt.Errorf("gpu: libnvidia-ml.so.1 not found (no NVIDIA driver): %w", gpu.ErrNoGPU)
		},
			drive: func(h *harness) { opened(h); h.keys("8") }},
		{name: "gpu", path: demoDir, deps: func(d *common.Deps) { d.GPU = fakeGPU{} }, drive: func(h *harness) {
			opened(h)
			h.keys("8")
			h.waitFor("a snapshot", func() bool { return strings.Contains(h.plain(), "H100") })
		}},
		{name: "help", path: demoDir, drive: func(h *harness) { opened(h); h.keys("?") }},
	}
}

func TestGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		for _, sc := range screens() {
			name := fmt.Sprintf("%s-%dx%d", sc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				deps := testDeps(t)
				if sc.deps != nil {
					sc.deps(&deps)
				}
				h := newHarness(t, Options{Path: sc.path, Deps: deps}, size[0], size[1])
				if sc.drive != nil {
					sc.drive(h)
				}
				h.settle()
				h.golden(name)
			})
		}
	}
}

func TestGPUFrame(t *testing.T) {
	t.Parallel()
	out := GPUFrame(fakeGPU{}, 3, 0, 100, 30)
	plain := ansiStrip(out)
	for _, want := range []string{"GPU 0  NVIDIA H100 80GB HBM3", "20.0 GiB / 80.0 GiB (25%)", "util 37%", "temp 41°C", "power 180 W / 700 W", "▆▆▆"} {
		if !strings.Contains(plain, want) {
			t.Errorf("frame lacks %q:\n%s", want, plain)
		}
	}
	if n := strings.Count(out, "\n") + 1; n != 30 {
		t.Errorf("frame has %d lines", n)
	}
}
