package common

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/keymap"
	"mlmf/tui/styles"
)

// Input is a one-line text field with the cursor at the end: enough for
// search queries and paths, and deterministic to render (no blinking).
type Input struct {
	Value   string
	Prompt  string
	Focused bool
}

// Update applies a key to the field and reports whether the value changed
// and whether the key was consumed.
func (in *Input) Update(km *keymap.KeyMap, msg tea.KeyPressMsg) (changed, consumed bool) {
	switch {
	case key.Matches(msg, km.Input.Erase):
		if in.Value == "" {
			return false, true
		}
		_, n := utf8.DecodeLastRuneInString(in.Value)
		in.Value = in.Value[:len(in.Value)-n]
		return true, true
	case key.Matches(msg, km.Input.Clear):
		changed = in.Value != ""
		in.Value = ""
		return changed, true
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		in.Value += msg.Text
		return true, true
	}
	return false, false
}

// View renders the field width cells wide.
func (in *Input) View(s *styles.Styles, width int) string {
	text := in.Value
	cursor := ""
	if in.Focused {
		cursor = "█"
	}
	avail := width - len([]rune(in.Prompt)) - 1
	if r := []rune(text); avail > 0 && len(r) > avail {
		text = "…" + string(r[len(r)-avail+1:])
	}
	line := s.Label.Render(in.Prompt) + s.Input.Render(text) + s.BarFull.Render(cursor)
	if in.Value == "" && !in.Focused {
		line = s.Label.Render(in.Prompt) + s.Muted.Render(strings.Repeat(" ", 0))
	}
	return line
}
