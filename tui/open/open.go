// Package open is the Open screen: recent checkpoints, a path field that
// lists matching files as you type, and progress while a checkpoint opens.
package open

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/common"
)

type (
	recentMsg struct {
		list []string
		err  error
	}
	entriesMsg struct {
		seq     int
		entries []entry
		err     error
	}
	savedMsg struct{ err error }
)

// Model is the Open screen.
type Model struct {
	c       *common.Common
	w, h    int
	recent  []string
	input   common.Input
	entries []entry
	listErr error
	seq     int
	cur     common.Cursor
	opening string
	started time.Time
	now     time.Time
	failed  error
	failedP string
	saver   *saver
	gen     int
}

// saver orders the writes of recent.json: commands run concurrently, and
// an older list must never overwrite a newer one.
type saver struct {
	mu      sync.Mutex
	written int
}

func (s *saver) save(gen int, dir string, list []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen <= s.written {
		return nil
	}
	s.written = gen
	return SaveRecent(dir, list)
}

func (m *Model) saveCmd() tea.Cmd {
	m.gen++
	sv, gen, dir, list := m.saver, m.gen, m.c.Deps.ConfigDir, m.recent
	return func() tea.Msg { return savedMsg{err: sv.save(gen, dir, list)} }
}

// New returns the screen.
func New(c *common.Common) *Model {
	return &Model{c: c, input: common.Input{Prompt: "path: "}, saver: &saver{}}
}

// Init loads the recent list.
func (m *Model) Init() tea.Cmd {
	dir := m.c.Deps.ConfigDir
	return func() tea.Msg {
		l, err := LoadRecent(dir)
		return recentMsg{list: l, err: err}
	}
}

func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.layout() }
func (m *Model) Capturing() bool  { return m.input.Focused }

// Recent returns the recent list.
func (m *Model) Recent() []string { return m.recent }

// Opening reports the path being opened ("" when none).
func (m *Model) Opening() string { return m.opening }

func (m *Model) items() []string {
	if m.input.Value != "" {
		out := make([]string, len(m.entries))
		for i, e := range m.entries {
			out[i] = e.Path
			if e.IsDir {
				out[i] += string(filepath.Separator)
			}
		}
		return out
	}
	return m.recent
}

func (m *Model) layout() {
	m.cur.N = len(m.items())
	m.cur.Visible = max(1, m.h-8)
	m.cur.Clamp()
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case recentMsg:
		if msg.err != nil {
			return common.Error(fmt.Errorf("recent checkpoints: %w", msg.err))
		}
		// keep anything opened before the file was read
		for i := len(msg.list) - 1; i >= 0; i-- {
			if !contains(m.recent, msg.list[i]) {
				m.recent = append(m.recent, msg.list[i])
			}
		}
		m.layout()
	case entriesMsg:
		if msg.seq == m.seq {
			m.entries, m.listErr = msg.entries, msg.err
			m.layout()
		}
	case savedMsg:
		if msg.err != nil {
			return common.Error(fmt.Errorf("saving recent checkpoints: %w", msg.err))
		}
	case common.OpeningMsg:
		m.opening, m.started, m.now, m.failed = msg.Path, msg.Start, msg.Start, nil
	case common.TickMsg:
		m.now = msg.At
	case common.OpenFailedMsg:
		m.opening, m.failed, m.failedP = "", msg.Err, msg.Path
	case common.OpenedMsg:
		m.opening = ""
		m.recent = pushRecent(m.recent, msg.Checkpoint.Path)
		m.layout()
		return m.saveCmd()
	case tea.KeyPressMsg:
		return m.key(msg)
	default:
		m.cur.Key(m.c.Keys, msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	items := m.items()
	if m.input.Focused {
		switch {
		case key.Matches(msg, km.Input.Cancel):
			m.input.Focused = false
			return nil
		case msg.String() == "tab":
			if m.cur.Pos < len(m.entries) && m.input.Value != "" {
				e := m.entries[m.cur.Pos]
				m.input.Value = e.Path
				if e.IsDir {
					m.input.Value += string(filepath.Separator)
				}
				return m.list()
			}
			return nil
		case key.Matches(msg, km.Input.Accept):
			p := strings.TrimSpace(m.input.Value)
			if m.cur.Pos < len(items) && len(m.entries) > 0 {
				p = strings.TrimRight(items[m.cur.Pos], string(filepath.Separator))
			}
			if p == "" {
				return nil
			}
			m.input.Focused = false
			return func() tea.Msg { return common.OpenMsg{Path: p} }
		case msg.Text == "" && (key.Matches(msg, km.List.Up) || key.Matches(msg, km.List.Down)):
			m.cur.Key(km, msg)
			return nil
		}
		if changed, _ := m.input.Update(km, msg); changed {
			return m.list()
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Open.Path):
		m.input.Focused = true
	case key.Matches(msg, km.Open.Choose):
		if m.cur.Pos < len(items) {
			p := strings.TrimRight(items[m.cur.Pos], string(filepath.Separator))
			return func() tea.Msg { return common.OpenMsg{Path: p} }
		}
	case key.Matches(msg, km.Open.Forget):
		if m.input.Value == "" && m.cur.Pos < len(m.recent) {
			m.recent = append(m.recent[:m.cur.Pos:m.cur.Pos], m.recent[m.cur.Pos+1:]...)
			m.layout()
			return m.saveCmd()
		}
	default:
		m.cur.Key(km, msg)
	}
	return nil
}

// list starts listing the directory the path field points into.
func (m *Model) list() tea.Cmd {
	m.seq++
	seq, v := m.seq, m.input.Value
	if v == "" {
		m.entries = nil
		m.layout()
		return nil
	}
	return func() tea.Msg {
		dir, prefix := filepath.Split(v)
		if dir == "" {
			dir = "."
		}
		ents, err := listDir(dir, prefix)
		return entriesMsg{seq: seq, entries: ents, err: err}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (m *Model) View() string {
	s := m.c.Styles
	var b strings.Builder
	b.WriteString(s.Title.Render("Open a checkpoint") + "\n")
	b.WriteString(s.Muted.Render("A safetensors file, a sharded or Hugging Face directory, or hf://org/name.") + "\n\n")
	if m.opening != "" {
		el := m.now.Sub(m.started)
		b.WriteString(s.Value.Render("Opening "+common.Truncate(m.opening, m.w-10)) + "\n")
		phase := int(el/(100*time.Millisecond)) % 20
		bw := min(40, m.w-12)
		frac := float64(phase) / 19
		b.WriteString(s.Bar(bw, frac) + s.Muted.Render(" reading headers… "+common.Duration(el)) + "\n\n")
	}
	if m.failed != nil {
		b.WriteString(s.Error.Render(common.Truncate("Could not open "+m.failedP+":", m.w)) + "\n")
		for _, l := range strings.Split(wrap(m.failed.Error(), m.w-2), "\n") {
			b.WriteString("  " + s.Error.Render(l) + "\n")
		}
		b.WriteString("\n")
	}
	in := m.input
	b.WriteString(in.View(s, m.w) + "\n")
	if !in.Focused && in.Value == "" {
		b.WriteString(s.Muted.Render("press / to type a path") + "\n")
	}
	b.WriteString("\n")
	items := m.items()
	title := "Recent"
	if m.input.Value != "" {
		title = "Matching files"
	}
	b.WriteString(s.Section.Render(title) + "\n")
	switch {
	case m.listErr != nil && m.input.Value != "":
		b.WriteString(s.Muted.Render(common.Truncate(m.listErr.Error(), m.w)))
	case len(items) == 0 && m.input.Value == "":
		b.WriteString(s.Muted.Render("Nothing opened yet."))
	case len(items) == 0:
		b.WriteString(s.Muted.Render("No checkpoint-like files here."))
	}
	from, to := m.cur.Window()
	for i := from; i < to && i < len(items); i++ {
		line := common.Pad("  "+items[i], m.w)
		if i == m.cur.Pos {
			b.WriteString(s.Selected.Render(line))
		} else {
			b.WriteString(s.Row.Render(line))
		}
		b.WriteString("\n")
	}
	return common.Fit(b.String(), m.h)
}

func wrap(s string, w int) string {
	if w <= 10 {
		return s
	}
	var lines []string
	for len([]rune(s)) > w {
		r := []rune(s)
		cut := w
		for i := w; i > w/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		lines = append(lines, string(r[:cut]))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	return strings.Join(append(lines, s), "\n")
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	if m.input.Focused {
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Input.Clear}
	}
	return []key.Binding{km.Open.Choose, km.Open.Path, km.Open.Forget, km.Global.Back}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
