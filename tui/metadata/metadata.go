// Package metadata browses a checkpoint's metadata: the format's own keys
// (safetensors __metadata__, GGUF key-values) and config.json. GGUF keys can
// be edited (set, add, delete) through engine.EditMeta after a confirm; the
// checkpoint is reopened once the file is written.
package metadata

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"mlmf/engine"
	"mlmf/tui/common"
)

type mode int

const (
	modeList mode = iota
	modeEdit      // the value of the selected key
	modeAdd       // KEY=TYPE:VALUE
	modeConfirm
)

type (
	// editedMsg reports a written edit, editFailedMsg one that failed.
	editedMsg struct {
		path string
		note string
	}
	editFailedMsg struct{ err error }
)

// Model is the Metadata pane.
type Model struct {
	c    *common.Common
	w, h int
	cp   *common.Checkpoint
	kvs  []common.KV
	cur  common.Cursor
	ok   bool

	mode    mode
	input   common.Input
	editKey string                 // the key being edited (modeEdit)
	pending engine.MetaEditRequest // what confirm writes
	action  string                 // what confirm does, in words
	note    string                 // what the last edit did
	keep    string                 // the key to select after a reload
	writing bool
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd { return nil }

// Capturing reports whether a prompt or a confirmation is open.
func (m *Model) Capturing() bool  { return m.mode != modeList }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.layout() }

// Editable reports whether the open checkpoint's metadata can be edited
// (GGUF files).
func (m *Model) Editable() bool {
	return m.cp != nil && m.cp.Summary != nil && m.cp.Summary.Format == "gguf"
}

// Writing reports whether an edit is being written.
func (m *Model) Writing() bool { return m.writing }

func (m *Model) layout() {
	m.cur.Visible = max(1, m.h-7)
	m.cur.N = len(m.kvs)
	m.cur.Clamp()
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		m.cp, m.kvs, m.ok = msg.Checkpoint, msg.Checkpoint.Meta, true
		m.cur = common.Cursor{}
		m.mode, m.writing = modeList, false
		if !msg.Reload {
			m.note, m.keep = "", ""
		}
		m.layout()
		if m.keep != "" {
			for i, kv := range m.kvs {
				if kv.Key == m.keep {
					m.cur.Pos = i
				}
			}
			m.cur.Clamp()
			m.keep = ""
		}
	case editFailedMsg:
		m.writing, m.keep = false, ""
		return common.Error(msg.err)
	case editedMsg:
		m.writing = false
		m.note = msg.note
		p := msg.path
		return func() tea.Msg { return common.OpenMsg{Path: p, Reload: true} }
	case tea.KeyPressMsg:
		if m.mode != modeList {
			return m.promptKey(msg)
		}
		return m.listKey(msg)
	default:
		m.cur.Key(m.c.Keys, msg)
	}
	return nil
}

func (m *Model) selected() (common.KV, bool) {
	if m.cur.Pos < 0 || m.cur.Pos >= len(m.kvs) {
		return common.KV{}, false
	}
	return m.kvs[m.cur.Pos], true
}

func (m *Model) listKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys.Metadata
	edit := key.Matches(msg, km.Edit) || key.Matches(msg, km.Add) || key.Matches(msg, km.Delete)
	if !edit {
		m.cur.Key(m.c.Keys, msg)
		return nil
	}
	if !m.Editable() {
		return common.Error(fmt.Errorf("metadata: only GGUF metadata can be edited; this checkpoint is %s", m.format()))
	}
	if m.writing {
		return common.Error(fmt.Errorf("metadata: an edit is still being written"))
	}
	kv, ok := m.selected()
	switch {
	case key.Matches(msg, km.Add):
		m.open(modeAdd, "add KEY=TYPE:VALUE: ", "")
	case !ok || kv.Source != "gguf":
		return common.Error(fmt.Errorf("metadata: choose a GGUF key (config.json is not part of the file)"))
	case key.Matches(msg, km.Edit):
		if kv.Type == "" {
			return common.Error(fmt.Errorf("metadata: %s is an array: only int, float, bool and str values can be set here (mlmf meta prints it in full)", kv.Key))
		}
		value := kv.Type + ":" + kv.Value
		if strings.Contains(kv.Value, "\n") {
			value = kv.Type + ":" // a multi-line string cannot be shown in one line: type it anew
		}
		m.open(modeEdit, kv.Key+" = ", value)
		m.editKey = kv.Key
	case key.Matches(msg, km.Delete):
		m.confirm(engine.MetaEditRequest{Path: m.cp.Path, Del: []string{kv.Key}}, "Delete "+kv.Key, kv.Key)
	}
	return nil
}

func (m *Model) format() string {
	if m.cp == nil || m.cp.Summary == nil {
		return "not open"
	}
	return m.cp.Summary.Format
}

func (m *Model) open(md mode, prompt, value string) {
	m.mode = md
	m.input = common.Input{Prompt: prompt, Value: value, Focused: true}
}

func (m *Model) confirm(req engine.MetaEditRequest, what, key string) {
	m.mode = modeConfirm
	m.pending = req
	m.action = what
	m.keep = key
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	if m.mode == modeConfirm {
		switch {
		case key.Matches(msg, km.Confirm.Yes):
			m.mode = modeList
			m.writing = true
			req, what := m.pending, m.action
			return func() tea.Msg {
				res, err := engine.EditMeta(req)
				if err != nil {
					return editFailedMsg{err: err}
				}
				how := "file rewritten atomically"
				if res.InPlace {
					how = "header rewritten in place"
				}
				return editedMsg{path: req.Path, note: what + " (" + how + ")"}
			}
		case key.Matches(msg, km.Confirm.No):
			m.mode = modeList
			m.keep = ""
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Input.Cancel):
		m.mode = modeList
		return nil
	case key.Matches(msg, km.Input.Accept):
		set := strings.TrimSpace(m.input.Value)
		if m.mode == modeEdit {
			set = m.editKey + "=" + m.input.Value
		}
		k, err := engine.CheckMetaSet(set)
		if err != nil {
			return common.Error(err)
		}
		shown := set
		if len(shown) > 60 {
			shown = shown[:57] + "…"
		}
		m.confirm(engine.MetaEditRequest{Path: m.cp.Path, Set: []string{set}}, "Set "+shown, k)
		return nil
	}
	m.input.Update(km, msg)
	return nil
}

func (m *Model) View() string {
	s := m.c.Styles
	if !m.ok {
		return common.Fit(s.Muted.Render("No checkpoint open."), m.h)
	}
	if len(m.kvs) == 0 && m.mode == modeList {
		hint := ""
		if m.Editable() {
			hint = "\n" + s.Muted.Render("a adds a key")
		}
		return common.Fit(s.Muted.Render("This checkpoint has no metadata.")+hint, m.h)
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
	body := common.Fit(b.String(), m.h-5)
	line := m.statusLine()
	sel, _ := m.selected()
	detail := s.Label.Render(sel.Key+": ") + s.Value.Render(lipgloss.Wrap(oneLine(sel.Value), max(10, m.w-4-len(sel.Key)-2), " ,"))
	detail = common.Fit(detail, 2)
	return body + "\n" + line + "\n" + s.Box.Width(m.w).Render(detail)
}

// statusLine is the prompt, the question, what the last edit did or a hint.
func (m *Model) statusLine() string {
	s := m.c.Styles
	switch m.mode {
	case modeEdit, modeAdd:
		return m.input.View(s, m.w)
	case modeConfirm:
		return s.Warning.Render(common.Truncate(m.action+" in "+m.cp.Path+"?", m.w-16)) + s.Muted.Render("  y yes · n no")
	}
	switch {
	case m.writing:
		return s.Warning.Render("writing…")
	case m.note != "":
		return s.Success.Render(common.Truncate("✓ "+m.note, m.w))
	case m.Editable():
		return s.Muted.Render(common.Truncate("GGUF: e edits the value (TYPE:VALUE, TYPE int, float, bool or str) · a adds · d deletes", m.w))
	}
	return s.Muted.Render(common.Truncate("Read-only: only GGUF metadata can be edited here.", m.w))
}

func oneLine(v string) string { return strings.ReplaceAll(v, "\n", "⏎") }

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	switch m.mode {
	case modeEdit, modeAdd:
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Input.Clear}
	case modeConfirm:
		return []key.Binding{km.Confirm.Yes, km.Confirm.No}
	}
	if m.Editable() {
		return []key.Binding{km.List.Up, km.List.Down, km.Metadata.Edit, km.Metadata.Add, km.Metadata.Delete}
	}
	return []key.Binding{km.List.Up, km.List.Down, km.List.PageDown}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	return [][]key.Binding{
		{km.List.Up, km.List.Down, km.List.PageUp, km.List.PageDown, km.List.Top, km.List.Bottom},
		{km.Metadata.Edit, km.Metadata.Add, km.Metadata.Delete},
	}
}
