// Package mapping shows the detected architecture and how every tensor maps
// to its canonical name, through common.MappingSource. Builds without the
// mapping package say so instead of showing anything made up.
package mapping

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/common"
)

// Model is the Mapping pane.
type Model struct {
	c      *common.Common
	w, h   int
	cp     *common.Checkpoint
	report *common.MappingReport
	err    error
	cur    common.Cursor
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) Capturing() bool  { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.cur.Visible = max(1, m.h-6); m.cur.Clamp() }

// Available reports whether this build has a mapping engine.
func (m *Model) Available() bool { return m.c.Deps.Mapping != nil }

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		// the report is made with the checkpoint, in the open command
		cp := msg.Checkpoint
		m.cp, m.report, m.err = cp, cp.Mapping, cp.MappingErr
		n := 0
		if m.report != nil {
			n = len(m.report.Rows)
		}
		m.cur = common.Cursor{N: n, Visible: max(1, m.h-6)}
	default:
		m.cur.Key(m.c.Keys, msg)
	}
	return nil
}

func (m *Model) View() string {
	s := m.c.Styles
	if !m.Available() {
		return common.Fit(s.Unavailable.Render("Mapping is not available in this build.")+"\n"+
			s.Muted.Render(common.Wrap("Architecture detection and canonical names come with the mapping package, which is not merged yet.", m.w)), m.h)
	}
	switch {
	case m.cp == nil:
		return common.Fit(s.Muted.Render("No checkpoint open."), m.h)
	case m.err != nil:
		return common.Fit(s.Error.Render(m.err.Error()), m.h)
	case m.report == nil:
		return common.Fit(s.Muted.Render("No mapping report for this checkpoint."), m.h)
	}
	r := m.report
	var b strings.Builder
	b.WriteString(s.Title.Render("Architecture: "+r.Architecture) + s.Muted.Render("  ("+r.Reason+")") + "\n")
	var unm, bad int
	for _, row := range r.Rows {
		switch row.Status {
		case "unmapped":
			unm++
		case "mismatch":
			bad++
		}
	}
	b.WriteString(s.Muted.Render(fmt.Sprintf("%d tensors · %d unmapped · %d mismatched · %d missing", len(r.Rows), unm, bad, len(r.Missing))) + "\n")
	nw := (m.w - 12) / 2
	b.WriteString(s.Header.Render(common.Pad("NAME", nw)+" "+common.Pad("CANONICAL", nw)+" STATUS") + "\n")
	from, to := m.cur.Window()
	for i := from; i < to; i++ {
		row := r.Rows[i]
		st := s.Success
		switch row.Status {
		case "unmapped":
			st = s.Warning
		case "mismatch":
			st = s.Error
		}
		line := common.Pad(row.Name, nw) + " " + common.Pad(row.Canonical, nw) + " "
		if i == m.cur.Pos {
			b.WriteString(s.Selected.Render(line) + st.Render(row.Status) + "\n")
		} else {
			b.WriteString(line + st.Render(row.Status) + "\n")
		}
	}
	if m.cur.Pos < len(r.Rows) {
		if sug := r.Rows[m.cur.Pos].Suggestions; len(sug) > 0 {
			b.WriteString(s.Label.Render("suggestions: ") + s.Value.Render(common.Truncate(strings.Join(sug, ", "), m.w-13)))
		}
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) ShortHelp() []key.Binding {
	if !m.Available() {
		return nil
	}
	km := m.c.Keys
	return []key.Binding{km.List.Up, km.List.Down}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
