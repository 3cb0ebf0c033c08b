// Package metadata browses a checkpoint's metadata: the format's own keys
// (safetensors __metadata__, GGUF key-values) and config.json.
package metadata

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"mlmf/tui/common"
)

// Model is the Metadata pane.
type Model struct {
	c    *common.Common
	w, h int
	kvs  []common.KV
	cur  common.Cursor
	ok   bool
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) Capturing() bool  { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.layout() }

func (m *Model) layout() {
	m.cur.Visible = max(1, m.h-6)
	m.cur.N = len(m.kvs)
	m.cur.Clamp()
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		m.kvs, m.ok = msg.Checkpoint.Meta, true
		m.cur = common.Cursor{}
		m.layout()
	default:
		m.cur.Key(m.c.Keys, msg)
	}
	return nil
}

func (m *Model) View() string {
	s := m.c.Styles
	if !m.ok {
		return common.Fit(s.Muted.Render("No checkpoint open."), m.h)
	}
	if len(m.kvs) == 0 {
		return common.Fit(s.Muted.Render("This checkpoint has no metadata."), m.h)
	}
	kw := min(40, m.w/3)
	srcw := 12
	var b strings.Builder
	b.WriteString(s.Header.Render(common.Pad("SOURCE", srcw)+" "+common.Pad("KEY", kw)+" VALUE") + "\n")
	from, to := m.cur.Window()
	for i := from; i < to; i++ {
		kv := m.kvs[i]
		line := common.Pad(kv.Source, srcw) + " " + common.Pad(kv.Key, kw) + " " + common.Truncate(oneLine(kv.Value), m.w-kw-srcw-2)
		line = common.Pad(line, m.w)
		if i == m.cur.Pos {
			b.WriteString(s.Selected.Render(line))
		} else {
			b.WriteString(s.Row.Render(line))
		}
		b.WriteString("\n")
	}
	body := common.Fit(b.String(), m.h-4)
	sel := m.kvs[m.cur.Pos]
	detail := s.Label.Render(sel.Key+": ") + s.Value.Render(lipgloss.Wrap(oneLine(sel.Value), max(10, m.w-4-len(sel.Key)-2), " ,"))
	detail = common.Fit(detail, 2)
	return body + "\n" + s.Box.Width(m.w).Render(detail)
}

func oneLine(v string) string { return strings.ReplaceAll(v, "\n", "⏎") }

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	return []key.Binding{km.List.Up, km.List.Down, km.List.PageDown}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	return [][]key.Binding{{km.List.Up, km.List.Down, km.List.PageUp, km.List.PageDown, km.List.Top, km.List.Bottom}}
}
