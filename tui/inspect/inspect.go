// Package inspect shows one tensor: its metadata and byte range, and its
// statistics and histogram, computed by the engine in the background.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
)

type statsMsg struct {
	cp    *common.Checkpoint
	index int
	stats *engine.Stats
	err   error
}

// Model is the Inspect pane.
type Model struct {
	c       *common.Common
	w, h    int
	cp      *common.Checkpoint
	index   int
	stats   *engine.Stats
	err     error
	pending bool
	// want is the tensor whose stats are on screen or on their way.
	want int
	// cancel stops the statistics of a tensor the user has left.
	cancel context.CancelFunc
	// seq is the newest selection seen; older ones are stale.
	seq int
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c, want: -1} }

func (m *Model) Init() tea.Cmd                  { return nil }
func (m *Model) SetSize(w, h int)               { m.w, m.h = w, h }
func (m *Model) Capturing() bool                { return false }
func (m *Model) Stats() *engine.Stats           { return m.stats }
func (m *Model) Index() int                     { return m.index }
func (m *Model) Checkpoint() *common.Checkpoint { return m.cp }

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		m.cp, m.index, m.stats, m.err, m.pending, m.want, m.seq = msg.Checkpoint, 0, nil, nil, false, -1, 0
	case common.SelectMsg:
		if msg.Seq < m.seq {
			return nil
		}
		m.seq, m.index = msg.Seq, msg.Index
	case common.InspectMsg:
		if msg.Seq < m.seq {
			return nil
		}
		m.seq, m.index = msg.Seq, msg.Index
		return m.compute(false)
	case common.ActivateMsg:
		return m.compute(false)
	case statsMsg:
		if msg.cp != m.cp || msg.index != m.want {
			return nil // a tensor the user has left
		}
		if errors.Is(msg.err, context.Canceled) {
			// it waited on a computation of the same tensor that was
			// cancelled when the user moved away; start again
			m.want = -1
			return m.compute(false)
		}
		m.pending = false
		m.stats, m.err = msg.stats, msg.err
	case tea.KeyPressMsg:
		km := m.c.Keys
		switch {
		case key.Matches(msg, km.Inspect.Prev), key.Matches(msg, km.List.Up):
			if m.index > 0 {
				m.index--
				return m.compute(false)
			}
		case key.Matches(msg, km.Inspect.Next), key.Matches(msg, km.List.Down):
			if m.cp != nil && m.index < len(m.cp.Infos)-1 {
				m.index++
				return m.compute(false)
			}
		case key.Matches(msg, km.Inspect.Recompute):
			return m.compute(true)
		}
	}
	return nil
}

// compute starts the statistics of the current tensor in a command.
func (m *Model) compute(force bool) tea.Cmd {
	if m.cp == nil || m.index >= len(m.cp.Infos) {
		return nil
	}
	if m.want == m.index && !force && (m.pending || m.stats != nil || m.err != nil) {
		return nil
	}
	m.want, m.stats, m.err, m.pending = m.index, nil, nil, true
	if m.cancel != nil {
		m.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	cp, i, cache := m.cp, m.index, m.c.Deps.Cache
	return func() tea.Msg {
		t := cp.Infos[i]
		if err := cp.Acquire(); err != nil {
			return statsMsg{cp: cp, index: i, err: err}
		}
		defer cp.Release()
		var s *engine.Stats
		var err error
		if cache != nil && !force {
			s, err = cache.Stats(ctx, cp.Path, cp.Reader, t, engine.StatsOptions{})
		} else {
			s, err = engine.ComputeStats(ctx, cp.Reader, t, engine.StatsOptions{})
		}
		return statsMsg{cp: cp, index: i, stats: s, err: err}
	}
}

func (m *Model) View() string {
	s := m.c.Styles
	if m.cp == nil || len(m.cp.Infos) == 0 {
		return common.Fit(s.Muted.Render("No tensor selected. Pick one in Tensors (1) and press enter."), m.h)
	}
	t := m.cp.Infos[m.index]
	var b strings.Builder
	kv := func(k, v string) {
		b.WriteString(s.Label.Render(common.Pad(k, 10)) + s.Value.Render(v) + "\n")
	}
	b.WriteString(s.Title.Render(common.Truncate(t.Name, m.w)) + "\n")
	kv("dtype", t.DType.String())
	kv("shape", fmt.Sprintf("%s  (%s elements)", common.Shape(t.Shape), common.Count(t.NumElements())))
	kv("bytes", fmt.Sprintf("%s  [%d, %d)", common.Bytes(t.Size), t.Offset, t.Offset+t.Size))
	file := t.File
	if file == "" {
		file = m.cp.Path
	}
	kv("file", common.Truncate(file, m.w-10))
	if m.cp.Canonical != nil {
		kv("canonical", m.cp.Canonical[m.index])
	}
	b.WriteString("\n" + s.Section.Render("Statistics") + "\n")
	switch {
	case m.want != m.index:
		b.WriteString(s.Muted.Render("press enter on a tensor, or [ and ], to compute statistics"))
	case m.pending:
		b.WriteString(s.Muted.Render("computing…"))
	case errors.Is(m.err, formats.ErrUnsupported):
		b.WriteString(s.Unavailable.Render(fmt.Sprintf("%v values cannot be decoded in this build", t.DType)))
	case m.err != nil:
		b.WriteString(s.Error.Render(m.err.Error()))
	case m.stats != nil:
		st := m.stats
		f := func(v float64) string { return fmt.Sprintf("%.6g", v) }
		cols := []string{
			s.Label.Render("min ") + s.Value.Render(f(st.Min)),
			s.Label.Render("max ") + s.Value.Render(f(st.Max)),
			s.Label.Render("mean ") + s.Value.Render(f(st.Mean)),
			s.Label.Render("std ") + s.Value.Render(f(st.Std)),
		}
		b.WriteString(strings.Join(cols, "   ") + "\n")
		counts := fmt.Sprintf("NaN %d   +Inf %d   -Inf %d   zeros %d (%.1f%%)", st.NaN, st.PosInf, st.NegInf, st.Zero, pct(st.Zero, st.Count))
		if st.NaN+st.PosInf+st.NegInf > 0 {
			b.WriteString(s.Warning.Render(counts) + "\n")
		} else {
			b.WriteString(s.Muted.Render(counts) + "\n")
		}
		used := strings.Count(b.String(), "\n")
		hh := m.h - used - 2
		if hh >= 2 && len(st.Hist.Bins) > 0 {
			cw := max(1, min(4, (m.w-2)/len(st.Hist.Bins)))
			b.WriteString(s.Columns(st.Hist.Bins, min(hh, 12), cw) + "\n")
			width := cw * len(st.Hist.Bins)
			lo, hi := fmt.Sprintf("%.4g", st.Hist.Min), fmt.Sprintf("%.4g", st.Hist.Max)
			b.WriteString(s.Muted.Render(lo + strings.Repeat(" ", max(1, width-len(lo)-len(hi))) + hi))
		}
	default:
		b.WriteString(s.Muted.Render("press enter on a tensor to compute statistics"))
	}
	return common.Fit(b.String(), m.h)
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	return []key.Binding{km.Inspect.Prev, km.Inspect.Next, km.Inspect.Recompute}
}

func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{m.ShortHelp()}
}
