// Package keymap is the TUI's one table of key bindings, nested by pane. The
// help bar, the help screen and the README's key table are generated from it.
package keymap

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
)

func b(keys []string, help, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

func k(keys ...string) []string { return keys }

// Global bindings work on every screen unless a text field has focus.
type Global struct {
	Quit, ForceQuit, Help, Open, Back, NextTab, PrevTab key.Binding
	Tabs                                                []key.Binding
}

// List bindings move through any list or table.
type List struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// Tensors is the tensor table.
type Tensors struct {
	Search, ClearSearch, Sort, Tree, Toggle, Inspect key.Binding
}

// Inspect is the tensor detail pane.
type Inspect struct {
	Prev, Next, Recompute key.Binding
}

// Jobs is the job list.
type Jobs struct {
	Cancel, OpenOutput key.Binding
}

// Preview is the quantization preview.
type Preview struct {
	Run key.Binding
}

// Mapping is the mapping fixer.
type Mapping struct {
	Accept, NextSuggestion, PrevSuggestion, Target, Complete, Arch, Save, Load, NextProblem, Undo key.Binding
}

// Metadata edits GGUF metadata.
type Metadata struct {
	Edit, Add, Delete key.Binding
}

// Confirm answers a confirmation prompt.
type Confirm struct {
	Yes, No key.Binding
}

// Open is the checkpoint picker.
type Open struct {
	Path, Choose, Forget key.Binding
}

// Form is any form (Convert).
type Form struct {
	Next, Prev, Left, Right, Submit key.Binding
}

// Convert is the Convert form's own keys (besides Form's).
type Convert struct {
	Toggle, DefaultOutput key.Binding
}

// Input is a focused text field.
type Input struct {
	Accept, Cancel, Erase, Clear key.Binding
}

// KeyMap is every binding.
type KeyMap struct {
	Global   Global
	List     List
	Tensors  Tensors
	Inspect  Inspect
	Jobs     Jobs
	Preview  Preview
	Mapping  Mapping
	Metadata Metadata
	Confirm  Confirm
	Open     Open
	Form     Form
	Convert  Convert
	Input    Input
}

// Default returns mlmf's bindings.
func Default() *KeyMap {
	km := &KeyMap{
		Global: Global{
			Quit:      b(k("q"), "q", "quit"),
			ForceQuit: b(k("ctrl+c"), "ctrl+c", "quit now"),
			Help:      b(k("?"), "?", "help"),
			Open:      b(k("o"), "o", "open checkpoint"),
			Back:      b(k("esc"), "esc", "back"),
			NextTab:   b(k("tab"), "tab", "next pane"),
			PrevTab:   b(k("shift+tab"), "shift+tab", "previous pane"),
		},
		List: List{
			Up:       b(k("up", "k"), "↑/k", "up"),
			Down:     b(k("down", "j"), "↓/j", "down"),
			PageUp:   b(k("pgup", "ctrl+b"), "pgup", "page up"),
			PageDown: b(k("pgdown", "ctrl+f"), "pgdn", "page down"),
			Top:      b(k("home", "g"), "g/home", "top"),
			Bottom:   b(k("end", "G"), "G/end", "bottom"),
		},
		Tensors: Tensors{
			Search:      b(k("/"), "/", "search"),
			ClearSearch: b(k("ctrl+u"), "ctrl+u", "clear search"),
			Sort:        b(k("s"), "s", "sort"),
			Tree:        b(k("t"), "t", "layer tree"),
			Toggle:      b(k("space"), "space", "fold group"),
			Inspect:     b(k("enter"), "enter", "inspect"),
		},
		Inspect: Inspect{
			Prev:      b(k("["), "[", "previous tensor"),
			Next:      b(k("]"), "]", "next tensor"),
			Recompute: b(k("r"), "r", "recompute stats"),
		},
		Jobs: Jobs{
			Cancel:     b(k("x"), "x", "cancel job"),
			OpenOutput: b(k("enter"), "enter", "open output"),
		},
		Preview: Preview{
			Run: b(k("enter"), "enter", "run preview"),
		},
		Mapping: Mapping{
			Accept:         b(k("enter"), "enter", "use suggestion"),
			NextSuggestion: b(k("right"), "→", "next suggestion"),
			PrevSuggestion: b(k("left"), "←", "prev suggestion"),
			Target:         b(k("e"), "e", "type a target"),
			Complete:       b(k("tab"), "tab", "complete target"),
			Arch:           b(k("a"), "a", "switch arch"),
			Save:           b(k("w"), "w", "save rules"),
			Load:           b(k("l"), "l", "load rules"),
			NextProblem:    b(k("n"), "n", "next unmapped"),
			Undo:           b(k("u"), "u", "undo last rule"),
		},
		Metadata: Metadata{
			Edit:   b(k("e"), "e", "edit value"),
			Add:    b(k("a"), "a", "add key"),
			Delete: b(k("d"), "d", "delete key"),
		},
		Confirm: Confirm{
			Yes: b(k("y"), "y", "confirm"),
			No:  b(k("n", "esc"), "n/esc", "cancel"),
		},
		Open: Open{
			Path:   b(k("/"), "/", "type a path"),
			Choose: b(k("enter"), "enter", "open"),
			Forget: b(k("d"), "d", "forget recent"),
		},
		Form: Form{
			Next:   b(k("down", "tab"), "↓/tab", "next field"),
			Prev:   b(k("up", "shift+tab"), "↑/⇧tab", "previous field"),
			Left:   b(k("left"), "←", "previous choice"),
			Right:  b(k("right"), "→", "next choice"),
			Submit: b(k("ctrl+s"), "ctrl+s", "start"),
		},
		Convert: Convert{
			Toggle:        b(k("space"), "space", "toggle option"),
			DefaultOutput: b(k("ctrl+r"), "ctrl+r", "default output path"),
		},
		Input: Input{
			Accept: b(k("enter"), "enter", "accept"),
			Cancel: b(k("esc"), "esc", "leave field"),
			Erase:  b(k("backspace"), "backspace", "erase"),
			Clear:  b(k("ctrl+u"), "ctrl+u", "clear"),
		},
	}
	names := []string{"tensors", "inspect", "metadata", "mapping", "preview", "convert", "jobs", "gpu"}
	for i, n := range names {
		km.Global.Tabs = append(km.Global.Tabs, b(k(fmt.Sprint(i+1)), fmt.Sprint(i+1), n))
	}
	return km
}

// Group is a titled set of bindings (one per pane in the help screen).
type Group struct {
	Title    string
	Bindings []key.Binding
}

// Groups returns every binding grouped by where it applies.
func (km *KeyMap) Groups() []Group {
	g := km.Global
	return []Group{
		{"Global", []key.Binding{g.Quit, g.ForceQuit, g.Help, g.Open, g.Back, g.NextTab, g.PrevTab,
			key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8"), key.WithHelp("1…8", "go to pane"))}},
		{"Lists", []key.Binding{km.List.Up, km.List.Down, km.List.PageUp, km.List.PageDown, km.List.Top, km.List.Bottom}},
		{"Tensors", []key.Binding{km.Tensors.Search, km.Tensors.ClearSearch, km.Tensors.Sort, km.Tensors.Tree, km.Tensors.Toggle, km.Tensors.Inspect}},
		{"Inspect", []key.Binding{km.Inspect.Prev, km.Inspect.Next, km.Inspect.Recompute}},
		{"Metadata", []key.Binding{km.Metadata.Edit, km.Metadata.Add, km.Metadata.Delete}},
		{"Mapping", []key.Binding{km.Mapping.Accept, km.Mapping.PrevSuggestion, km.Mapping.NextSuggestion, km.Mapping.Target,
			km.Mapping.Complete, km.Mapping.Arch, km.Mapping.Save, km.Mapping.Load, km.Mapping.NextProblem, km.Mapping.Undo}},
		{"Jobs", []key.Binding{km.Jobs.Cancel, km.Jobs.OpenOutput}},
		{"Preview", []key.Binding{km.Form.Left, km.Form.Right, km.Preview.Run}},
		{"Confirm", []key.Binding{km.Confirm.Yes, km.Confirm.No}},
		{"Open", []key.Binding{km.Open.Path, km.Open.Choose, km.Open.Forget}},
		{"Forms", []key.Binding{km.Form.Next, km.Form.Prev, km.Form.Left, km.Form.Right, km.Form.Submit}},
		{"Convert", []key.Binding{km.Convert.Toggle, km.Convert.DefaultOutput}},
		{"Text fields", []key.Binding{km.Input.Accept, km.Input.Cancel, km.Input.Erase, km.Input.Clear}},
	}
}

// Markdown renders the key table for the README.
func (km *KeyMap) Markdown() string {
	var sb strings.Builder
	sb.WriteString("| where | key | action |\n|---|---|---|\n")
	for _, g := range km.Groups() {
		for _, bd := range g.Bindings {
			h := bd.Help()
			fmt.Fprintf(&sb, "| %s | `%s` | %s |\n", g.Title, h.Key, h.Desc)
		}
	}
	return sb.String()
}
