// Package gpupane shows every GPU's memory (a live sparkline), utilisation,
// temperature and power, polled about once a second through gpu.Monitor.
package gpupane

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/gpu"
	"mlmf/tui/common"
)

const history = 240

type pollMsg struct{}

type snapshotMsg struct {
	snap gpu.Snapshot
	err  error
}

// Model is the GPU pane.
type Model struct {
	c      *common.Common
	w, h   int
	snap   gpu.Snapshot
	err    error
	mem    map[int][]float64 // per device: used/total history
	util   map[int][]float64
	polled bool
}

// New returns the pane.
func New(c *common.Common) *Model {
	return &Model{c: c, mem: map[int][]float64{}, util: map[int][]float64{}}
}

// Init starts polling when a monitor exists.
func (m *Model) Init() tea.Cmd {
	if m.c.Deps.GPU == nil {
		return nil
	}
	return m.poll()
}

func (m *Model) Capturing() bool  { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

func (m *Model) poll() tea.Cmd {
	src := m.c.Deps.GPU
	return func() tea.Msg {
		s, err := src.Snapshot()
		return snapshotMsg{snap: s, err: err}
	}
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pollMsg:
		return m.poll()
	case snapshotMsg:
		m.polled = true
		m.snap, m.err = msg.snap, msg.err
		for _, d := range msg.snap.Devices {
			frac := 0.0
			if d.MemTotal > 0 {
				frac = float64(d.MemUsed) / float64(d.MemTotal)
			}
			m.mem[d.Index] = push(m.mem[d.Index], frac)
			m.util[d.Index] = push(m.util[d.Index], float64(max(d.Util, 0))/100)
		}
		if iv := m.c.Deps.GPUInterval; iv > 0 {
			return tea.Tick(iv, func(time.Time) tea.Msg { return pollMsg{} })
		}
	}
	return nil
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

func push(h []float64, v float64) []float64 {
	h = append(h, v)
	if len(h) > history {
		h = h[len(h)-history:]
	}
	return h
}

// Snapshot is the latest reading (for tests and the CLI).
func (m *Model) Snapshot() gpu.Snapshot { return m.snap }

func (m *Model) View() string {
	s := m.c.Styles
	if m.c.Deps.GPU == nil {
		why := ""
		if err := m.c.Deps.GPUErr; err != nil {
			why = "\n" + s.Muted.Render(common.Wrap(err.Error(), m.w))
		}
		return common.Fit(s.Title.Render("No GPU found.")+why+"\n\n"+
			s.Muted.Render(common.Wrap("mlmf works on the CPU; NVIDIA GPUs show here through NVML when a driver is present.", m.w)), m.h)
	}
	if !m.polled {
		return common.Fit(s.Muted.Render("Reading GPUs…"), m.h)
	}
	if m.err != nil && len(m.snap.Devices) == 0 {
		return common.Fit(s.Error.Render(m.err.Error()), m.h)
	}
	var b strings.Builder
	head := fmt.Sprintf("NVIDIA driver %s · %d device(s) · updated %s", m.snap.Driver, len(m.snap.Devices), m.snap.At.Format("15:04:05"))
	if m.w >= 100 {
		head += " · charts: one column a reading"
	}
	b.WriteString(s.Muted.Render(head) + "\n")
	sw := max(10, m.w-4)
	memH, utilH := 3, 2
	if len(m.snap.Devices) > 2 {
		memH, utilH = 1, 1
	}
	for _, d := range m.snap.Devices {
		frac := 0.0
		if d.MemTotal > 0 {
			frac = float64(d.MemUsed) / float64(d.MemTotal)
		}
		b.WriteString("\n" + s.Title.Render(fmt.Sprintf("GPU %d  %s", d.Index, d.Name)) + "\n")
		b.WriteString(s.Label.Render("memory ") + s.Value.Render(fmt.Sprintf("%s / %s (%.0f%%)", gpu.GiB(d.MemUsed), gpu.GiB(d.MemTotal), 100*frac)) + "  " + s.Bar(max(10, min(30, m.w-50)), frac) + "\n")
		b.WriteString(indent(s.Chart(sw, memH, m.mem[d.Index])) + "\n")
		stat := func(label string, v int, unit string) string {
			if v < 0 {
				return s.Label.Render(label) + s.Muted.Render("n/a")
			}
			return s.Label.Render(label) + s.Value.Render(fmt.Sprintf("%d%s", v, unit))
		}
		power := s.Label.Render("power ") + s.Muted.Render("n/a")
		if d.PowerW >= 0 {
			power = s.Label.Render("power ") + s.Value.Render(fmt.Sprintf("%.0f W", d.PowerW))
			if d.PowerLimitW > 0 {
				power += s.Muted.Render(fmt.Sprintf(" / %.0f W", d.PowerLimitW))
			}
		}
		b.WriteString(stat("util ", d.Util, "%") + "   " + stat("temp ", d.TempC, "°C") + "   " + power + "\n")
		b.WriteString(indent(s.Chart(sw, utilH, m.util[d.Index])) + "\n")
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) ShortHelp() []key.Binding  { return nil }
func (m *Model) FullHelp() [][]key.Binding { return nil }
