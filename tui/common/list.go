package common

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/keymap"
)

// Cursor is a selection in a list of N items shown Visible at a time.
type Cursor struct {
	Pos, Offset, N, Visible int
}

// Key moves the cursor for list bindings and mouse wheels; it reports
// whether msg was one.
func (c *Cursor) Key(km *keymap.KeyMap, msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			c.Move(-3)
		case tea.MouseWheelDown:
			c.Move(3)
		default:
			return false
		}
		return true
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, km.List.Up):
			c.Move(-1)
		case key.Matches(msg, km.List.Down):
			c.Move(1)
		case key.Matches(msg, km.List.PageUp):
			c.Move(-max(1, c.Visible))
		case key.Matches(msg, km.List.PageDown):
			c.Move(max(1, c.Visible))
		case key.Matches(msg, km.List.Top):
			c.Move(-c.N)
		case key.Matches(msg, km.List.Bottom):
			c.Move(c.N)
		default:
			return false
		}
		return true
	}
	return false
}

// Move moves by d and keeps the cursor on screen.
func (c *Cursor) Move(d int) {
	c.Pos += d
	c.Clamp()
}

// Clamp keeps Pos and Offset valid.
func (c *Cursor) Clamp() {
	c.Pos = max(0, min(c.Pos, c.N-1))
	v := max(1, c.Visible)
	if c.Pos < c.Offset {
		c.Offset = c.Pos
	}
	if c.Pos >= c.Offset+v {
		c.Offset = c.Pos - v + 1
	}
	c.Offset = max(0, min(c.Offset, c.N-v))
}

// Window returns the visible range [from, to).
func (c *Cursor) Window() (int, int) {
	return c.Offset, min(c.N, c.Offset+max(1, c.Visible))
}
