// Package preview shows what a dtype or quantization change would cost per
// tensor (error and size), from the engine's preview job through
// common.PreviewSource. Builds without it say so.
package preview

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/tui/common"
)

type startedMsg struct{ id engine.JobID }

// Model is the Preview pane.
type Model struct {
	c      *common.Common
	w, h   int
	cp     *common.Checkpoint
	target int
	job    engine.JobID
	prog   engine.Progress
	rows   []common.PreviewRow
	err    error
	cur    common.Cursor
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) Capturing() bool  { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.cur.Visible = max(1, h-5); m.cur.Clamp() }

// Available reports whether this build has a preview engine.
func (m *Model) Available() bool { return m.c.Deps.Preview != nil }

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		m.cp, m.rows, m.err, m.job = msg.Checkpoint, nil, nil, 0
	case startedMsg:
		m.job = msg.id
	case common.EventMsg:
		ev := msg.Event
		if ev.Job != m.job || m.job == 0 {
			return nil
		}
		switch ev.Kind {
		case engine.EventProgress:
			m.prog = ev.Progress
		case engine.EventDone:
			m.rows, _ = ev.Result.([]common.PreviewRow)
			slices.SortFunc(m.rows, func(a, b common.PreviewRow) int { return -cmpF(a.RMSE, b.RMSE) })
			m.cur = common.Cursor{N: len(m.rows), Visible: max(1, m.h-5)}
		case engine.EventFailed, engine.EventCancelled:
			m.err = ev.Err
		}
	case tea.KeyPressMsg:
		if !m.Available() || m.cp == nil {
			return nil
		}
		km := m.c.Keys
		targets := m.c.Deps.Preview.Targets()
		switch {
		case key.Matches(msg, km.Form.Left):
			m.target = (m.target + len(targets) - 1) % max(1, len(targets))
		case key.Matches(msg, km.Form.Right):
			m.target = (m.target + 1) % max(1, len(targets))
		case key.Matches(msg, km.Preview.Run):
			if len(targets) == 0 {
				return nil
			}
			src, cp, t, jobs := m.c.Deps.Preview, m.cp, targets[m.target], m.c.Deps.Jobs
			m.rows, m.err = nil, nil
			return func() tea.Msg {
				id := jobs.Start("preview", "preview "+t, func(ctx context.Context, p func(engine.Progress)) (any, error) {
					return src.Preview(ctx, cp, t, p)
				})
				return startedMsg{id: id}
			}
		default:
			m.cur.Key(km, msg)
		}
	}
	return nil
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *Model) View() string {
	s := m.c.Styles
	if !m.Available() {
		return common.Fit(s.Unavailable.Render("Preview is not available in this build.")+"\n"+
			s.Muted.Render(common.Wrap("Per-tensor error and size previews need the quantization engine (engine/quant, formats/ggml), which is not merged yet.", m.w)), m.h)
	}
	if m.cp == nil {
		return common.Fit(s.Muted.Render("No checkpoint open."), m.h)
	}
	targets := m.c.Deps.Preview.Targets()
	var b strings.Builder
	t := ""
	if len(targets) > 0 {
		t = targets[m.target]
	}
	b.WriteString(s.Label.Render("target ") + s.Selected.Render(" "+t+" ") + s.Muted.Render("  ←/→ choose · enter run") + "\n")
	if m.err != nil {
		b.WriteString(s.Error.Render(m.err.Error()) + "\n")
	}
	if m.job != 0 && m.rows == nil && m.err == nil {
		frac := 0.0
		if m.prog.Count > 0 {
			frac = float64(m.prog.Index) / float64(m.prog.Count)
		}
		b.WriteString(s.Bar(30, frac) + fmt.Sprintf(" %d/%d", m.prog.Index, m.prog.Count) + "\n")
	}
	if len(m.rows) > 0 {
		nw := max(10, m.w-60)
		b.WriteString(s.Header.Render(common.Pad("NAME", nw)+fmt.Sprintf(" %10s %10s %8s %8s %10s", "RMSE", "MAX ERR", "SNR dB", "COS", "SIZE")) + "\n")
		from, to := m.cur.Window()
		for i := from; i < to; i++ {
			r := m.rows[i]
			var line string
			if r.From == r.To { // kept as it is: there is no error to show
				line = common.Pad(r.Name, nw) + fmt.Sprintf(" %10s %10s %8s %8s %10s", "—", "—", "kept", "—", common.Bytes(r.BytesAft))
			} else {
				line = common.Pad(r.Name, nw) + fmt.Sprintf(" %10.3g %10.3g %8.1f %8.5f %10s", r.RMSE, r.MaxAbs, r.SNR, r.Cos, common.Bytes(r.BytesAft))
			}
			if i == m.cur.Pos {
				line = s.Selected.Render(line)
			}
			b.WriteString(line + "\n")
		}
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) ShortHelp() []key.Binding {
	if !m.Available() {
		return nil
	}
	km := m.c.Keys
	return []key.Binding{km.Form.Left, km.Form.Right, km.Preview.Run}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
