// Package tui is mlmf's terminal workbench: a root model that routes
// messages to one pane per screen and renders the tab bar, status bar and
// help bar around the active one.
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"mlmf/engine"
	"mlmf/tui/common"
	"mlmf/tui/convert"
	"mlmf/tui/gpupane"
	"mlmf/tui/inspect"
	"mlmf/tui/jobs"
	"mlmf/tui/keyhelp"
	"mlmf/tui/keymap"
	"mlmf/tui/mapping"
	"mlmf/tui/metadata"
	"mlmf/tui/open"
	"mlmf/tui/preview"
	"mlmf/tui/styles"
	"mlmf/tui/tensors"
)

// Options configure the app.
type Options struct {
	// Path is opened at start; empty shows the Open screen.
	Path string
	Deps common.Deps
}

type openTickMsg struct{ at time.Time }

// Model is the root model.
type Model struct {
	c       *common.Common
	panes   [common.NumTabs]common.Pane
	open    *open.Model
	help    *keyhelp.Model
	tensors *tensors.Model
	inspect *inspect.Model
	meta    *metadata.Model
	mapping *mapping.Model
	jobs    *jobs.Model
	active  common.PaneID
	back    common.PaneID
	cp      *common.Checkpoint
	err     error
	opening bool
	path    string
	bar     help.Model
	quit    bool
}

var tabNames = [common.NumTabs]string{"Tensors", "Inspect", "Metadata", "Mapping", "Preview", "Convert", "Jobs", "GPU"}

// New builds the root model.
func New(opt Options) *Model {
	if opt.Deps.Now == nil {
		opt.Deps.Now = time.Now
	}
	if opt.Deps.Jobs == nil {
		opt.Deps.Jobs = engine.NewJobs()
	}
	c := &common.Common{Styles: styles.Default(), Keys: keymap.Default(), Deps: opt.Deps, Width: 80, Height: 24}
	m := &Model{c: c, path: opt.Path, active: common.PaneOpen, back: common.PaneTensors}
	m.tensors = tensors.New(c)
	m.inspect = inspect.New(c)
	m.jobs = jobs.New(c)
	m.meta = metadata.New(c)
	m.mapping = mapping.New(c)
	m.panes = [common.NumTabs]common.Pane{
		m.tensors, m.inspect, m.meta, m.mapping, preview.New(c), convert.New(c), m.jobs, gpupane.New(c),
	}
	m.open = open.New(c)
	m.help = keyhelp.New(c)
	m.bar = help.New()
	s := c.Styles
	m.bar.Styles.ShortKey, m.bar.Styles.ShortDesc, m.bar.Styles.ShortSeparator = s.HelpKey, s.HelpDesc, s.HelpSep
	m.bar.Styles.FullKey, m.bar.Styles.FullDesc, m.bar.Styles.FullSeparator = s.HelpKey, s.HelpDesc, s.HelpSep
	m.bar.Styles.Ellipsis = s.HelpSep
	m.resize(c.Width, c.Height)
	return m
}

// Common exposes the shared state (for tests and the CLI).
func (m *Model) Common() *common.Common { return m.c }

// Active returns the visible screen.
func (m *Model) Active() common.PaneID { return m.active }

// Checkpoint returns the open checkpoint.
func (m *Model) Checkpoint() *common.Checkpoint { return m.cp }

// Tensors, Inspect, Metadata, Mapping and Jobs expose panes for tests.
func (m *Model) Tensors() *tensors.Model   { return m.tensors }
func (m *Model) Inspect() *inspect.Model   { return m.inspect }
func (m *Model) Metadata() *metadata.Model { return m.meta }
func (m *Model) Mapping() *mapping.Model   { return m.mapping }
func (m *Model) Jobs() *jobs.Model         { return m.jobs }
func (m *Model) Open() *open.Model         { return m.open }

// Err returns the error on the status bar.
func (m *Model) Err() error { return m.err }

func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.open.Init()}
	for _, p := range m.panes {
		cmds = append(cmds, p.Init())
	}
	if m.path != "" {
		p := m.path
		cmds = append(cmds, func() tea.Msg { return common.OpenMsg{Path: p} })
	}
	return tea.Batch(cmds...)
}

func (m *Model) pane(id common.PaneID) common.Pane {
	switch id {
	case common.PaneOpen:
		return m.open
	case common.PaneHelp:
		return m.help
	}
	return m.panes[id]
}

func (m *Model) all() []common.Pane {
	return append(m.panes[:], m.open, m.help)
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.all() {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) show(id common.PaneID) tea.Cmd {
	if id != common.PaneOpen && id != common.PaneHelp {
		m.back = id
	} else if m.active != common.PaneOpen && m.active != common.PaneHelp {
		m.back = m.active
	}
	m.active = id
	return m.pane(id).Update(common.ActivateMsg{})
}

func (m *Model) resize(w, h int) {
	m.c.Width, m.c.Height = w, h
	bh := max(1, h-3)
	for _, p := range m.all() {
		p.SetSize(w, bh)
	}
	m.bar.SetWidth(w)
}

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.MouseWheelMsg:
		return m, m.pane(m.active).Update(msg)
	case common.ErrorMsg:
		m.err = msg.Err
		return m, nil
	case common.OpenMsg:
		m.err = nil
		m.opening = true
		start := m.c.Deps.Now()
		cmd := m.open.Update(common.OpeningMsg{Path: msg.Path, Start: start})
		if !msg.Reload {
			m.active = common.PaneOpen
		}
		p, src, reload := msg.Path, m.c.Deps.Mapping, msg.Reload
		return m, tea.Batch(cmd, openTick(), func() tea.Msg {
			cp, err := Load(context.Background(), p, src)
			if err != nil {
				return common.OpenFailedMsg{Path: p, Err: err}
			}
			return common.OpenedMsg{Checkpoint: cp, Reload: reload}
		})
	case openTickMsg:
		if !m.opening {
			return m, nil
		}
		return m, tea.Batch(m.open.Update(common.TickMsg{At: msg.at}), openTick())
	case common.OpenFailedMsg:
		m.opening = false
		m.err = msg.Err
		return m, m.open.Update(msg)
	case common.OpenedMsg:
		m.opening = false
		old := m.cp
		m.cp = msg.Checkpoint
		cmds := []tea.Cmd{m.broadcast(msg)}
		if !msg.Reload {
			cmds = append(cmds, m.show(common.PaneTensors))
		}
		if old != nil {
			cmds = append(cmds, func() tea.Msg {
				if err := old.Close(); err != nil {
					return common.ErrorMsg{Err: fmt.Errorf("closing %s: %w", old.Path, err)}
				}
				return nil
			})
		}
		return m, tea.Batch(cmds...)
	case common.InspectMsg:
		cmd := m.inspect.Update(msg)
		return m, tea.Batch(cmd, m.show(common.PaneInspect))
	case common.SelectMsg:
		return m, m.inspect.Update(msg)
	case common.ShowPaneMsg:
		return m, m.show(msg.Pane)
	case common.EventMsg:
		if msg.Event.Kind == engine.EventFailed {
			m.err = fmt.Errorf("job #%d failed: %w", msg.Event.Job, msg.Event.Err)
		}
		return m, m.broadcast(msg)
	}
	// pane-private messages go to every pane; each ignores the others'.
	return m, m.broadcast(msg)
}

func openTick() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(t time.Time) tea.Msg { return openTickMsg{at: t} })
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	g := m.c.Keys.Global
	m.err = nil
	if key.Matches(msg, g.ForceQuit) {
		return m.quitCmd()
	}
	p := m.pane(m.active)
	if p.Capturing() {
		return p.Update(msg)
	}
	switch {
	case key.Matches(msg, g.Quit):
		return m.quitCmd()
	case key.Matches(msg, g.Help):
		if m.active == common.PaneHelp {
			return m.show(m.back)
		}
		return m.show(common.PaneHelp)
	case key.Matches(msg, g.Open):
		return m.show(common.PaneOpen)
	case key.Matches(msg, g.Back) && (m.active == common.PaneOpen || m.active == common.PaneHelp):
		if m.cp == nil && m.active == common.PaneOpen {
			return nil
		}
		return m.show(m.back)
	case key.Matches(msg, g.NextTab):
		return m.show(m.tabStep(1))
	case key.Matches(msg, g.PrevTab):
		return m.show(m.tabStep(-1))
	}
	for i, b := range g.Tabs {
		if key.Matches(msg, b) {
			return m.show(common.PaneID(i))
		}
	}
	return p.Update(msg)
}

func (m *Model) tabStep(d int) common.PaneID {
	cur := m.active
	if cur >= common.NumTabs {
		cur = m.back
	}
	return common.PaneID((int(cur) + d + int(common.NumTabs)) % int(common.NumTabs))
}

func (m *Model) quitCmd() tea.Cmd {
	m.quit = true
	jobs := m.c.Deps.Jobs
	return func() tea.Msg {
		jobs.CancelAll()
		return tea.Quit()
	}
}

// Render draws the whole screen as a string (View wraps it).
func (m *Model) Render() string {
	w, h := m.c.Width, m.c.Height
	body := common.Fit(m.pane(m.active).View(), max(1, h-3))
	lines := []string{m.tabBar(), body, m.statusBar(), m.helpBar()}
	out := strings.Join(lines, "\n")
	// guarantee the frame never exceeds the terminal (cut long lines)
	rows := strings.Split(out, "\n")
	if len(rows) > h {
		rows = rows[:h]
	}
	for i, r := range rows {
		if lipgloss.Width(r) > w {
			rows[i] = cut(r, w)
		}
	}
	return strings.Join(rows, "\n")
}

func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "mlmf"
	return v
}

func (m *Model) tabBar() string {
	s := m.c.Styles
	var parts []string
	parts = append(parts, s.Logo.Render("mlmf "))
	wide := m.c.Width >= 100
	for i, name := range tabNames {
		label := name
		if wide {
			label = fmt.Sprintf("%d %s", i+1, name)
		}
		if common.PaneID(i) == m.active {
			parts = append(parts, s.TabActive.Render(label))
		} else {
			parts = append(parts, s.Tab.Render(label))
		}
	}
	switch m.active {
	case common.PaneOpen:
		parts = append(parts, s.TabActive.Render("Open"))
	case common.PaneHelp:
		parts = append(parts, s.TabActive.Render("Help"))
	}
	return strings.Join(parts, "")
}

func (m *Model) statusBar() string {
	s := m.c.Styles
	w := m.c.Width
	if m.err != nil {
		return s.StatusError.Render(common.Truncate("✗ "+oneLine(m.err.Error()), w))
	}
	var right []string
	if c := m.c.Deps.Cache; c != nil {
		u := c.Usage()
		right = append(right, s.StatusKey.Render("cache ")+s.StatusValue.Render(common.Bytes(u.Used)+"/"+common.Bytes(u.Budget)))
	}
	if n := m.jobs.Running(); n > 0 {
		right = append(right, s.Warning.Render(fmt.Sprintf("%d job(s) running", n)))
	}
	r := strings.Join(right, s.Status.Render(" · "))
	var left string
	switch {
	case m.cp != nil:
		left = s.StatusValue.Render(m.cp.Summary.Format) + s.Status.Render(" · ") + s.Status.Render(m.tensors.Status())
	case m.opening:
		left = s.Status.Render("opening…")
	default:
		left = s.Status.Render("no checkpoint open")
	}
	lw, rw := lipgloss.Width(left), lipgloss.Width(r)
	for lw+rw+1 > w && len(right) > 0 {
		right = right[1:] // drop the cache figure first, then the job count
		r = strings.Join(right, s.Status.Render(" · "))
		rw = lipgloss.Width(r)
	}
	if lw+rw+1 > w {
		return cut(left, w)
	}
	return left + strings.Repeat(" ", w-lw-rw) + r
}

func (m *Model) helpBar() string {
	g := m.c.Keys.Global
	b := append([]key.Binding{}, m.pane(m.active).ShortHelp()...)
	if !m.pane(m.active).Capturing() {
		b = append(b, g.Help, g.Open, g.Quit)
	}
	return m.bar.ShortHelpView(b)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// cut truncates a styled line to w cells.
func cut(s string, w int) string { return ansi.Truncate(s, w, "") }
