// Package keyhelp is the Help screen: the full keymap, generated from the
// keymap package.
package keyhelp

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/common"
)

// Model is the Help screen.
type Model struct {
	c      *common.Common
	w, h   int
	offset int
	lines  []string
}

// New returns the screen.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd   { return nil }
func (m *Model) Capturing() bool { return false }

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.render()
}

func (m *Model) render() {
	s := m.c.Styles
	groups := m.c.Keys.Groups()
	colW := 28
	cols := max(1, m.w/colW)
	var blocks []string
	for _, g := range groups {
		var b strings.Builder
		b.WriteString(s.Section.Render(g.Title))
		for _, bd := range g.Bindings {
			h := bd.Help()
			b.WriteString("\n" + s.HelpKey.Render(common.Pad(h.Key, 11)) + s.HelpDesc.Render(common.Truncate(h.Desc, colW-13)))
		}
		blocks = append(blocks, b.String())
	}
	// lay the groups out in rows of cols columns
	m.lines = nil
	for i := 0; i < len(blocks); i += cols {
		row := blocks[i:min(i+cols, len(blocks))]
		split := make([][]string, len(row))
		height := 0
		for k, bl := range row {
			split[k] = strings.Split(bl, "\n")
			height = max(height, len(split[k]))
		}
		for l := range height {
			var line strings.Builder
			for k := range row {
				cell := ""
				if l < len(split[k]) {
					cell = split[k][l]
				}
				line.WriteString(cell)
				if k < len(row)-1 {
					line.WriteString(strings.Repeat(" ", max(0, colW-visible(cell))))
				}
			}
			m.lines = append(m.lines, line.String())
		}
		m.lines = append(m.lines, "")
	}
}

func visible(s string) int {
	return len([]rune(stripANSI(s)))
}

func stripANSI(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case r == 0x1b:
			esc = true
		case esc && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
			esc = false
		case !esc:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	c := common.Cursor{Pos: m.offset, Offset: m.offset, N: len(m.lines), Visible: 1}
	if c.Key(m.c.Keys, msg) {
		m.offset = max(0, min(c.Pos, len(m.lines)-m.h))
	}
	return nil
}

func (m *Model) View() string {
	end := min(len(m.lines), m.offset+m.h)
	return common.Fit(strings.Join(m.lines[m.offset:end], "\n"), m.h)
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	return []key.Binding{km.Global.Back, km.List.Down, km.List.Up}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
