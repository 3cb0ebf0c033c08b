// Package convert is the Convert form: target format, dtype, shard size and
// output path, validated before it starts engine.Convert as a job.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
)

// Target is an output format the form offers.
type Target struct {
	Name string
	// Unavailable says why this build cannot write it ("" when it can).
	Unavailable string
}

// Targets are the formats offered; those whose writer is not in this build
// are listed with the reason so the user knows they exist.
var Targets = []Target{
	{Name: "safetensors"},
	{Name: "gguf", Unavailable: "GGUF export is not available in this build (the GGUF writer is not merged yet)"},
}

// DTypes are the dtype choices ("keep" leaves tensors as they are).
var DTypes = []string{"keep", "BF16", "F16", "F32", "F8_E4M3", "F8_E5M2"}

const (
	fieldTarget = iota
	fieldDType
	fieldShard
	fieldOutput
	fieldStart
	numFields
)

type (
	invalidMsg struct{ err error }
	startedMsg struct {
		id  engine.JobID
		out string
	}
)

// Model is the Convert pane.
type Model struct {
	c        *common.Common
	w, h     int
	cp       *common.Checkpoint
	focus    int
	target   int
	dtype    int
	shard    common.Input
	output   common.Input
	editing  bool
	err      error
	started  string
	outTouch bool
}

// New returns the pane.
func New(c *common.Common) *Model {
	return &Model{c: c, shard: common.Input{Prompt: "", Value: "0"}, output: common.Input{Prompt: ""}}
}

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }
func (m *Model) Capturing() bool  { return m.editing }

// Request is the request the form describes, validated without touching
// the disk (Validate in the start command checks the output path).
func (m *Model) Request() (engine.ConvertRequest, error) {
	var req engine.ConvertRequest
	if m.cp == nil {
		return req, errors.New("open a checkpoint first")
	}
	if t := Targets[m.target]; t.Unavailable != "" {
		return req, errors.New(t.Unavailable)
	}
	req.Source = m.cp.Path
	if d := DTypes[m.dtype]; d != "keep" {
		dt, err := formats.ParseDType(d)
		if err != nil {
			return req, err
		}
		req.DType = dt
	}
	size, err := ParseSize(m.shard.Value)
	if err != nil {
		return req, fmt.Errorf("shard size: %w (examples: 0 for one file, 500MB, 5GB, 2GiB)", err)
	}
	req.ShardSize = size
	out := strings.TrimSpace(m.output.Value)
	if out == "" {
		return req, errors.New("output path: enter where to write the result")
	}
	if filepath.Clean(out) == filepath.Clean(m.cp.Path) {
		return req, errors.New("output path: it is the source; choose another path")
	}
	if size == 0 && !strings.HasSuffix(out, ".safetensors") {
		return req, errors.New("output path: a single-file output should end in .safetensors")
	}
	req.Output = out
	return req, nil
}

// ParseSize parses "0", "500MB", "5GB", "2GiB" or a byte count.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	if s == "" || s == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func (m *Model) defaultOutput() string {
	if m.cp == nil {
		return ""
	}
	src := strings.TrimRight(m.cp.Path, string(filepath.Separator))
	base := strings.TrimSuffix(filepath.Base(src), ".safetensors")
	suffix := strings.ToLower(DTypes[m.dtype])
	if suffix == "keep" {
		suffix = "copy"
	}
	name := base + "-" + suffix
	if sz, _ := ParseSize(m.shard.Value); sz == 0 {
		name += ".safetensors"
	}
	return filepath.Join(filepath.Dir(src), name)
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		m.cp, m.err, m.started = msg.Checkpoint, nil, ""
		if !m.outTouch {
			m.output.Value = m.defaultOutput()
		}
	case invalidMsg:
		m.err = msg.err
	case startedMsg:
		m.started = fmt.Sprintf("Started job #%d → %s", msg.id, msg.out)
		id := msg.id
		return tea.Batch(
			func() tea.Msg { return common.JobStartedMsg{ID: id, Title: "convert"} },
			func() tea.Msg { return common.ShowPaneMsg{Pane: common.PaneJobs} },
		)
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	if key.Matches(msg, km.Form.Submit) {
		m.editing = false
		return m.submit()
	}
	if m.editing {
		in := m.field()
		switch {
		case key.Matches(msg, km.Input.Cancel):
			m.editing = false
		case key.Matches(msg, km.Input.Accept):
			m.editing = false
			m.focus = min(m.focus+1, numFields-1)
		case msg.String() == "tab" || msg.String() == "shift+tab" || msg.String() == "up" || msg.String() == "down":
			m.editing = false
			return m.key(msg)
		default:
			if changed, _ := in.Update(km, msg); changed {
				m.err = nil
				if in == &m.output {
					m.outTouch = true
				} else if !m.outTouch {
					m.output.Value = m.defaultOutput()
				}
			}
		}
		m.syncFocus()
		return nil
	}
	switch {
	case key.Matches(msg, km.Form.Next):
		m.focus = (m.focus + 1) % numFields
	case key.Matches(msg, km.Form.Prev):
		m.focus = (m.focus + numFields - 1) % numFields
	case key.Matches(msg, km.Form.Left), key.Matches(msg, km.Form.Right):
		d := 1
		if key.Matches(msg, km.Form.Left) {
			d = -1
		}
		switch m.focus {
		case fieldTarget:
			m.target = (m.target + d + len(Targets)) % len(Targets)
		case fieldDType:
			m.dtype = (m.dtype + d + len(DTypes)) % len(DTypes)
			if !m.outTouch {
				m.output.Value = m.defaultOutput()
			}
		}
		m.err = nil
	case key.Matches(msg, km.Input.Accept):
		switch m.focus {
		case fieldShard, fieldOutput:
			m.editing = true
		case fieldStart:
			return m.submit()
		default:
			m.focus++
		}
	default:
		// typing on a text field starts editing it
		if (m.focus == fieldShard || m.focus == fieldOutput) && msg.Text != "" {
			m.editing = true
			return m.key(msg)
		}
	}
	m.syncFocus()
	return nil
}

func (m *Model) field() *common.Input {
	if m.focus == fieldShard {
		return &m.shard
	}
	return &m.output
}

func (m *Model) syncFocus() {
	m.shard.Focused = m.editing && m.focus == fieldShard
	m.output.Focused = m.editing && m.focus == fieldOutput
}

// submit validates the form and, in a command, checks the output path and
// starts the job.
func (m *Model) submit() tea.Cmd {
	req, err := m.Request()
	if err != nil {
		m.err = err
		return nil
	}
	m.err = nil
	jobs := m.c.Deps.Jobs
	return func() tea.Msg {
		if err := checkOutput(req); err != nil {
			return invalidMsg{err}
		}
		title := fmt.Sprintf("convert %s → %s", filepath.Base(strings.TrimRight(req.Source, "/")), filepath.Base(req.Output))
		if req.DType != formats.Invalid {
			title += " (" + req.DType.String() + ")"
		}
		id := jobs.Start("convert", title, func(ctx context.Context, p func(engine.Progress)) (any, error) {
			return engine.Convert(ctx, req, p)
		})
		return startedMsg{id: id, out: req.Output}
	}
}

// checkOutput refuses to overwrite and wants the parent directory to exist.
func checkOutput(req engine.ConvertRequest) error {
	if _, err := os.Stat(req.Output); err == nil {
		return fmt.Errorf("output path: %s already exists; choose another path or remove it", req.Output)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output path: %w", err)
	}
	dir := filepath.Dir(req.Output)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("output path: directory %s does not exist", dir)
	}
	return nil
}

func (m *Model) View() string {
	s := m.c.Styles
	if m.cp == nil {
		return common.Fit(s.Muted.Render("Open a checkpoint to convert it."), m.h)
	}
	var b strings.Builder
	b.WriteString(s.Title.Render("Convert "+common.Truncate(m.cp.Path, m.w-10)) + "\n")
	b.WriteString(s.Muted.Render(fmt.Sprintf("%d tensors · %s", m.cp.Summary.TensorCount, common.Bytes(m.cp.Summary.TotalBytes))) + "\n\n")
	lw := 14
	vw := m.w - lw - 4
	row := func(i int, label, value string) {
		mark := "  "
		if i == m.focus {
			mark = s.Title.Render("▸ ")
		}
		b.WriteString(mark + s.Label.Render(common.Pad(label, lw)) + value + "\n")
	}
	choice := func(i int, opts []string, sel int) string {
		var parts []string
		for k, o := range opts {
			if k == sel {
				if i == m.focus {
					parts = append(parts, s.Selected.Render(" "+o+" "))
				} else {
					parts = append(parts, s.Value.Render("["+o+"]"))
				}
			} else {
				parts = append(parts, s.Muted.Render(" "+o+" "))
			}
		}
		return strings.Join(parts, "")
	}
	var tnames []string
	for _, t := range Targets {
		tnames = append(tnames, t.Name)
	}
	row(fieldTarget, "format", choice(fieldTarget, tnames, m.target))
	if u := Targets[m.target].Unavailable; u != "" {
		b.WriteString(strings.Repeat(" ", lw+2) + s.Unavailable.Render(common.Truncate(u, vw)) + "\n")
	}
	row(fieldDType, "dtype", choice(fieldDType, DTypes, m.dtype))
	row(fieldShard, "shard size", m.inputView(&m.shard, fieldShard, vw))
	row(fieldOutput, "output", m.inputView(&m.output, fieldOutput, vw))
	b.WriteString("\n")
	btn := "[ Start conversion ]"
	if m.focus == fieldStart {
		b.WriteString("  " + s.TabActive.Render(btn) + "\n")
	} else {
		b.WriteString("  " + s.Value.Render(btn) + "\n")
	}
	b.WriteString("\n")
	if m.err != nil {
		b.WriteString(s.Error.Render(common.Truncate("✗ "+m.err.Error(), m.w)) + "\n")
	} else if m.started != "" {
		b.WriteString(s.Success.Render(common.Truncate("✓ "+m.started, m.w)) + "\n")
	} else {
		b.WriteString(s.Muted.Render("Integer and bool tensors are never cast. 0 shard size writes one file.") + "\n")
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) inputView(in *common.Input, i, w int) string {
	if in.Focused {
		return in.View(m.c.Styles, w)
	}
	v := common.Truncate(in.Value, w)
	if i == m.focus {
		return m.c.Styles.Selected.Render(v)
	}
	return m.c.Styles.Value.Render(v)
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	if m.editing {
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Form.Submit}
	}
	return []key.Binding{km.Form.Next, km.Form.Left, km.Form.Right, km.Form.Submit}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	return [][]key.Binding{{km.Form.Next, km.Form.Prev, km.Form.Left, km.Form.Right, km.Form.Submit}}
}
