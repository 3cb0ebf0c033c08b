// Package mapping shows the detected architecture and how every tensor maps
// to its canonical name, through common.MappingSource, and fixes what does
// not map: accept a suggestion (as a rule over every block), type a target
// with fuzzy completion, switch the architecture, save and load the rules as
// a mapping file. Every change re-runs the report in a command. Builds
// without the mapping package say so instead of showing anything made up.
package mapping

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/sahilm/fuzzy"

	"mlmf/tui/common"
)

type mode int

const (
	modeList mode = iota
	modeTarget
	modeArch
	modeSave
	modeLoad
)

// maxMatches is how many completions the target field lists.
const maxMatches = 6

type (
	// reportMsg is a re-run report (seq orders them: only the newest counts).
	reportMsg struct {
		cp        *common.Checkpoint
		seq       int
		report    *common.MappingReport
		canonical []string
		err       error
	}
	canonMsg struct {
		arch  string
		names []string
	}
	savedMsg struct {
		path  string
		rules int
	}
	loadedMsg struct {
		cp   *common.Checkpoint
		path string
		fix  common.MappingFix
	}
)

// Model is the Mapping pane.
type Model struct {
	c      *common.Common
	w, h   int
	cp     *common.Checkpoint
	report *common.MappingReport
	err    error
	cur    common.Cursor
	sug    int // the chosen suggestion of the selected row

	fix     common.MappingFix
	history []common.MappingFix // for undo
	dirty   bool                // rules changed since the last save or load
	file    string              // the mapping file last saved or loaded
	seq     int
	running bool
	note    string // what the last action did

	mode    mode
	input   common.Input
	canon   []string // the architecture's canonical names, for completion
	matches []fuzzy.Match
	pick    common.Cursor // selection in the completions or architectures
	archs   []string
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Init() tea.Cmd { return nil }

// Capturing reports whether a prompt (target, architecture, path) is open.
func (m *Model) Capturing() bool { return m.mode != modeList }

func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.cur.Visible = max(1, m.h-6); m.cur.Clamp() }

// Available reports whether this build has a mapping engine.
func (m *Model) Available() bool { return m.c.Deps.Mapping != nil }

// Report returns the report on screen.
func (m *Model) Report() *common.MappingReport { return m.report }

// Fix returns the architecture choice and rules built so far.
func (m *Model) Fix() common.MappingFix { return m.fix }

// Busy reports whether a report is being re-run.
func (m *Model) Busy() bool { return m.running }

func (m *Model) fixer() (common.MappingFixer, bool) {
	f, ok := m.c.Deps.Mapping.(common.MappingFixer)
	return f, ok
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		// the report is made with the checkpoint, in the open command
		cp := msg.Checkpoint
		same := m.cp != nil && m.cp.Path == cp.Path
		m.cp, m.report, m.err = cp, cp.Mapping, cp.MappingErr
		m.cur = common.Cursor{N: m.rows(), Visible: max(1, m.h-6)}
		m.sug, m.mode, m.running = 0, modeList, false
		if msg.Reload && same && !m.fix.Empty() {
			return m.rerun("")
		}
		m.fix, m.history, m.dirty, m.file, m.note = common.MappingFix{}, nil, false, "", ""
		return nil
	case reportMsg:
		if msg.cp != m.cp || msg.seq != m.seq {
			return nil // an older report
		}
		m.running = false
		if msg.err != nil {
			return common.Error(msg.err)
		}
		sel := m.selectedName()
		m.report, m.err = msg.report, nil
		m.cur.N = m.rows()
		if i := slices.IndexFunc(m.report.Rows, func(r common.MappingRow) bool { return r.Name == sel }); i >= 0 {
			m.cur.Pos = i
		}
		m.cur.Clamp()
		m.sug = 0
		cp, canon := msg.cp, msg.canonical
		return tea.Batch(func() tea.Msg { return common.MappingMsg{Checkpoint: cp, Canonical: canon} }, m.fixMsg())
	case canonMsg:
		if m.report != nil && msg.arch == m.report.Architecture {
			m.canon = msg.names
			m.complete()
		}
		return nil
	case savedMsg:
		m.file, m.dirty = msg.path, false
		m.note = fmt.Sprintf("saved %d rule(s) to %s", msg.rules, msg.path)
		return m.fixMsg()
	case loadedMsg:
		if msg.cp != m.cp {
			return nil
		}
		m.history = append(m.history, m.fix)
		m.fix, m.file, m.dirty = msg.fix, msg.path, false
		return m.rerun(fmt.Sprintf("loaded %d rule(s) from %s", len(msg.fix.Rules), msg.path))
	case tea.KeyPressMsg:
		if m.mode != modeList {
			return m.promptKey(msg)
		}
		return m.listKey(msg)
	default:
		if m.mode == modeList {
			m.cur.Key(m.c.Keys, msg)
		}
	}
	return nil
}

// fixMsg tells the other panes (Convert) the fixer's rules as they are now.
func (m *Model) fixMsg() tea.Cmd {
	msg := common.MappingFixMsg{Checkpoint: m.cp, Fix: m.fixCopy(), Unsaved: m.dirty, File: m.file}
	return func() tea.Msg { return msg }
}

func (m *Model) rows() int {
	if m.report == nil {
		return 0
	}
	return len(m.report.Rows)
}

func (m *Model) selected() (common.MappingRow, bool) {
	if m.report == nil || m.cur.Pos < 0 || m.cur.Pos >= len(m.report.Rows) {
		return common.MappingRow{}, false
	}
	return m.report.Rows[m.cur.Pos], true
}

func (m *Model) selectedName() string {
	r, _ := m.selected()
	return r.Name
}

func (m *Model) listKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys.Mapping
	f, canFix := m.fixer()
	if !canFix || m.cp == nil {
		if m.cur.Key(m.c.Keys, msg) {
			m.sug = 0
		}
		return nil
	}
	if m.report == nil {
		// no report (the architecture was not detected): choosing one or
		// loading a mapping file is the way out
		if !key.Matches(msg, km.Arch) && !key.Matches(msg, km.Load) {
			return nil
		}
	}
	row, _ := m.selected()
	switch {
	case key.Matches(msg, km.Accept):
		if row.Status == "mapped" {
			return common.Error(fmt.Errorf("mapping: %s is mapped already: choose an unmapped tensor (n jumps to the next)", row.Name))
		}
		if m.sug >= len(row.Fixes) {
			return common.Error(fmt.Errorf("mapping: no suggestion for %s: type a target with e", row.Name))
		}
		rule := row.Fixes[m.sug]
		return m.addRule(rule, fmt.Sprintf("accepted %s → %s", rule.HF, rule.Canonical))
	case key.Matches(msg, km.NextSuggestion):
		if m.sug+1 < len(row.Suggestions) {
			m.sug++
		}
	case key.Matches(msg, km.PrevSuggestion):
		if m.sug > 0 {
			m.sug--
		}
	case key.Matches(msg, km.Target):
		if row.Name == "" {
			return nil
		}
		m.open(modeTarget, "target: ", "")
		arch := m.report.Architecture
		m.canon = nil
		m.complete()
		return func() tea.Msg { return canonMsg{arch: arch, names: f.Canonicals(arch)} }
	case key.Matches(msg, km.Arch):
		m.open(modeArch, "", "")
		m.archs = f.Archs()
		m.pick = common.Cursor{N: len(m.archs), Visible: max(1, m.h-5)}
		if m.report != nil {
			m.pick.Pos = max(0, slices.Index(m.archs, m.report.Architecture))
		}
		m.pick.Clamp()
	case key.Matches(msg, km.Save):
		m.open(modeSave, "save rules to: ", m.defaultFile())
	case key.Matches(msg, km.Load):
		m.open(modeLoad, "load rules from: ", m.defaultFile())
	case key.Matches(msg, km.NextProblem):
		for d := 1; d <= len(m.report.Rows); d++ {
			i := (m.cur.Pos + d) % len(m.report.Rows)
			if m.report.Rows[i].Status != "mapped" {
				m.cur.Pos = i
				m.cur.Clamp()
				m.sug = 0
				break
			}
		}
	case key.Matches(msg, km.Undo):
		if len(m.history) == 0 {
			return common.Error(fmt.Errorf("mapping: nothing to undo"))
		}
		m.fix = m.history[len(m.history)-1]
		m.history = m.history[:len(m.history)-1]
		m.dirty = true
		return m.rerun("undone")
	default:
		if m.cur.Key(m.c.Keys, msg) {
			m.sug = 0
		}
	}
	return nil
}

func (m *Model) open(md mode, prompt, value string) {
	m.mode = md
	m.input = common.Input{Prompt: prompt, Value: value, Focused: md != modeArch}
	m.matches = nil
	m.pick = common.Cursor{Visible: maxMatches}
}

// defaultFile is the mapping file last used, else mapping.yaml beside the
// checkpoint (worked out from the path alone: no IO here).
func (m *Model) defaultFile() string {
	if m.file != "" {
		return m.file
	}
	dir := m.cp.Path
	if filepath.Ext(dir) != "" {
		dir = filepath.Dir(dir)
	}
	return filepath.Join(dir, "mapping.yaml")
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	if key.Matches(msg, km.Input.Cancel) {
		m.mode = modeList
		return nil
	}
	if m.mode == modeArch {
		switch {
		case key.Matches(msg, km.Input.Accept):
			m.mode = modeList
			if m.pick.Pos >= len(m.archs) {
				return nil
			}
			arch := m.archs[m.pick.Pos]
			m.history = append(m.history, m.fix)
			m.fix.Arch, m.dirty = arch, true
			return m.rerun("architecture: " + arch)
		default:
			m.pick.Key(km, msg)
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Input.Accept):
		return m.submit()
	case m.mode == modeTarget && key.Matches(msg, km.Mapping.Complete):
		if m.pick.Pos < len(m.matches) {
			m.input.Value = m.matches[m.pick.Pos].Str
			m.complete()
		}
		return nil
	case m.mode == modeTarget && msg.Text == "" && (key.Matches(msg, km.List.Up) || key.Matches(msg, km.List.Down)):
		m.pick.Key(km, msg)
		return nil
	}
	if changed, _ := m.input.Update(km, msg); changed && m.mode == modeTarget {
		m.complete()
	}
	return nil
}

// complete refreshes the completions of the target field: fuzzy matches of
// the typed text over the canonical names, or all of them for no text.
func (m *Model) complete() {
	q := m.input.Value
	if q == "" {
		m.matches = m.matches[:0]
		for i, n := range m.canon {
			m.matches = append(m.matches, fuzzy.Match{Str: n, Index: i})
		}
	} else {
		m.matches = fuzzy.Find(q, m.canon)
	}
	// names with the tensor's own suffix (weight, bias) first
	row, _ := m.selected()
	suffix := row.Name[strings.LastIndexByte(row.Name, '.')+1:]
	slices.SortStableFunc(m.matches, func(a, b fuzzy.Match) int {
		return boolInt(!strings.HasSuffix(a.Str, "."+suffix)) - boolInt(!strings.HasSuffix(b.Str, "."+suffix))
	})
	m.pick = common.Cursor{N: len(m.matches), Visible: maxMatches}
}

func (m *Model) submit() tea.Cmd {
	f, _ := m.fixer()
	md, value := m.mode, strings.TrimSpace(m.input.Value)
	switch md {
	case modeTarget:
		if m.pick.Pos < len(m.matches) && m.matches[m.pick.Pos].Str != value {
			value = m.matches[m.pick.Pos].Str
		}
		if value == "" {
			return nil
		}
		m.mode = modeList
		row, _ := m.selected()
		rule, err := f.Rule(m.report.Architecture, row.Name, value)
		if err != nil {
			return common.Error(err)
		}
		return m.addRule(rule, fmt.Sprintf("mapped %s → %s", rule.HF+rule.Match, rule.Canonical))
	case modeSave, modeLoad:
		if value == "" {
			return nil
		}
		m.mode = modeList
		if md == modeLoad {
			cp := m.cp
			return func() tea.Msg {
				fix, err := f.LoadRules(value)
				if err != nil {
					return common.ErrorMsg{Err: err}
				}
				return loadedMsg{cp: cp, path: value, fix: fix}
			}
		}
		fix := m.fixCopy()
		if fix.Arch == "" && m.report != nil {
			fix.Arch = m.report.Architecture // a file that says which architecture it is for
		}
		return func() tea.Msg {
			if err := f.SaveRules(value, fix); err != nil {
				return common.ErrorMsg{Err: err}
			}
			return savedMsg{path: value, rules: len(fix.Rules)}
		}
	}
	return nil
}

func (m *Model) fixCopy() common.MappingFix {
	f := m.fix
	f.Rules = slices.Clone(f.Rules)
	f.Skip = slices.Clone(f.Skip)
	return f
}

// addRule adds a rule (replacing one for the same names) and re-runs the
// report.
func (m *Model) addRule(r common.MappingRule, note string) tea.Cmd {
	m.history = append(m.history, m.fixCopy())
	m.fix.Rules = slices.DeleteFunc(slices.Clone(m.fix.Rules), func(o common.MappingRule) bool {
		return o.HF == r.HF && o.Match == r.Match
	})
	m.fix.Rules = append(m.fix.Rules, r)
	m.dirty = true
	return m.rerun(note)
}

// rerun maps the checkpoint again with the fix, in a command.
func (m *Model) rerun(note string) tea.Cmd {
	f, ok := m.fixer()
	if !ok || m.cp == nil {
		return nil
	}
	m.seq++
	m.running = true
	m.note = note
	cp, seq, fix := m.cp, m.seq, m.fixCopy()
	return func() tea.Msg {
		if err := cp.Acquire(); err != nil {
			return reportMsg{cp: cp, seq: seq, err: err}
		}
		defer cp.Release()
		rep, err := f.ReportWith(context.Background(), cp, fix)
		if err != nil {
			return reportMsg{cp: cp, seq: seq, err: err}
		}
		return reportMsg{cp: cp, seq: seq, report: rep, canonical: cp.CanonicalNames(rep)}
	}
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
	case m.err != nil || m.report == nil:
		msg := s.Muted.Render("No mapping report for this checkpoint.")
		if m.err != nil {
			msg = s.Error.Render(common.Wrap(m.err.Error(), m.w))
		}
		if _, ok := m.fixer(); ok {
			if m.mode != modeList {
				panel := m.panel()
				return common.Fit(common.Fit(msg, max(1, m.h-len(panel)))+"\n"+strings.Join(panel, "\n"), m.h)
			}
			msg += "\n\n" + s.Muted.Render(common.Wrap("a chooses the architecture, l loads a mapping file.", m.w))
		}
		return common.Fit(msg, m.h)
	}
	r := m.report
	var b strings.Builder
	arch := s.Title.Render("Architecture: "+r.Architecture) + s.Muted.Render("  ("+r.Reason+")")
	b.WriteString(common.Truncate(arch, m.w) + "\n")
	var unm, bad int
	for _, row := range r.Rows {
		switch row.Status {
		case "unmapped":
			unm++
		case "mismatch":
			bad++
		}
	}
	counts := s.Muted.Render(fmt.Sprintf("%d tensors · %d unmapped · %d mismatched · %d missing", len(r.Rows), unm, bad, len(r.Missing)))
	switch {
	case m.running:
		counts += s.Warning.Render(" · re-mapping…")
	case unm+bad+len(r.Missing) == 0:
		counts += s.Success.Render(" · clean")
	}
	if n := len(m.fix.Rules); n > 0 || m.dirty {
		st := fmt.Sprintf(" · %d rule(s)", n)
		if m.dirty {
			st += " (unsaved)"
		}
		counts += s.Label.Render(st)
	}
	b.WriteString(cutStyled(counts, m.w) + "\n")
	panel := m.panel()
	visible := max(1, m.h-3-len(panel))
	nw := (m.w - 12) / 2
	b.WriteString(s.Header.Render(common.Pad("NAME", nw)+" "+common.Pad("CANONICAL", nw)+" STATUS") + "\n")
	cur := m.cur
	cur.Visible = visible
	cur.Clamp()
	from, to := cur.Window()
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
	for i := to - from; i < visible; i++ {
		b.WriteString("\n")
	}
	b.WriteString(strings.Join(panel, "\n"))
	return common.Fit(b.String(), m.h)
}

// panel is what goes under the table: the suggestions and the last action,
// or the open prompt.
func (m *Model) panel() []string {
	s := m.c.Styles
	switch m.mode {
	case modeTarget:
		row, _ := m.selected()
		lines := []string{s.Label.Render("map ") + s.Value.Render(common.Truncate(row.Name, m.w-5)),
			m.input.View(s, m.w)}
		from, to := m.pick.Window()
		for i := from; i < to; i++ {
			mt := m.matches[i]
			lines = append(lines, m.matchLine(mt, i == m.pick.Pos))
		}
		if len(m.matches) == 0 {
			lines = append(lines, s.Muted.Render("no canonical name matches; enter uses the text as typed"))
		}
		return lines
	case modeArch:
		lines := []string{s.Label.Render("switch architecture (enter picks, esc cancels)")}
		vis := max(1, m.h-8)
		pk := m.pick
		pk.Visible = vis
		pk.Clamp()
		from, to := pk.Window()
		for i := from; i < to; i++ {
			line := common.Pad("  "+m.archs[i], min(m.w, 32))
			if i == m.pick.Pos {
				line = s.Selected.Render(line)
			}
			lines = append(lines, line)
		}
		return lines
	case modeSave, modeLoad:
		return []string{m.input.View(s, m.w), s.Muted.Render("a mapping file (YAML: arch, rules, skip); enter confirms, esc cancels")}
	}
	var lines []string
	if row, ok := m.selected(); ok && len(row.Suggestions) > 0 {
		var parts []string
		for i, sg := range row.Suggestions {
			if i == m.sug {
				parts = append(parts, s.Selected.Render(sg))
			} else {
				parts = append(parts, s.Value.Render(sg))
			}
		}
		lines = append(lines, cutStyled(s.Label.Render("suggestions: ")+strings.Join(parts, s.Muted.Render(", ")), m.w))
		if i := m.sug; i < len(row.Fixes) {
			lines = append(lines, cutStyled(s.Label.Render("enter adds ")+s.Value.Render(row.Fixes[i].HF+" → "+row.Fixes[i].Canonical), m.w))
		}
	}
	if _, ok := m.fixer(); ok {
		for len(lines) < 2 {
			lines = append(lines, "")
		}
	}
	if m.note != "" {
		lines = append(lines, s.Success.Render(common.Truncate("✓ "+m.note, m.w)))
	} else if _, ok := m.fixer(); ok {
		lines = append(lines, "")
	}
	return lines
}

func (m *Model) matchLine(mt fuzzy.Match, sel bool) string {
	s := m.c.Styles
	text, hit := s.Value, s.Match
	if sel {
		text, hit = s.Selected, s.SelectedMatch
	}
	var b strings.Builder
	b.WriteString(text.Render("  "))
	j := 0
	for i, r := range mt.Str {
		st := text
		if j < len(mt.MatchedIndexes) && mt.MatchedIndexes[j] == i {
			st = hit
			j++
		}
		b.WriteString(st.Render(string(r)))
	}
	return cutStyled(b.String(), m.w)
}

func (m *Model) ShortHelp() []key.Binding {
	if !m.Available() {
		return nil
	}
	km := m.c.Keys
	switch m.mode {
	case modeTarget:
		return []key.Binding{km.Input.Accept, km.Mapping.Complete, km.Input.Cancel}
	case modeArch:
		return []key.Binding{km.List.Up, km.List.Down, km.Input.Accept, km.Input.Cancel}
	case modeSave, modeLoad:
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Input.Clear}
	}
	if _, ok := m.fixer(); !ok {
		return []key.Binding{km.List.Up, km.List.Down}
	}
	return []key.Binding{km.Mapping.Accept, km.Mapping.NextSuggestion, km.Mapping.Target, km.Mapping.Arch, km.Mapping.Save, km.Mapping.NextProblem}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	if _, ok := m.fixer(); !ok || m.mode != modeList {
		return [][]key.Binding{m.ShortHelp()}
	}
	mp := km.Mapping
	return [][]key.Binding{
		{km.List.Up, km.List.Down, mp.NextProblem},
		{mp.Accept, mp.PrevSuggestion, mp.NextSuggestion, mp.Target, mp.Arch},
		{mp.Save, mp.Load, mp.Undo},
	}
}

// cutStyled cuts a styled line to w cells.
func cutStyled(s string, w int) string { return ansi.Truncate(s, w, "…") }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
