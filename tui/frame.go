package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/gpu"
	"mlmf/tui/common"
)

// GPUFrame renders the GPU screen once, as the TUI draws it, after taking
// samples readings interval apart (so the sparklines have history). It is
// what `mlmf gpu status --frame` prints: a capture of the panel on machines
// without tmux.
func GPUFrame(src gpu.Source, samples int, interval time.Duration, width, height int) string {
	m := New(Options{Deps: common.Deps{Jobs: engine.NewJobs(), GPU: src}})
	m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	m.show(common.PaneGPU)
	pane := m.panes[common.PaneGPU]
	for i := range max(1, samples) {
		if i > 0 {
			time.Sleep(interval)
		}
		// the pane's first command reads one snapshot (GPUInterval is 0,
		// so it does not schedule another)
		if cmd := pane.Init(); cmd != nil {
			m.Update(cmd())
		}
	}
	return m.Render()
}
