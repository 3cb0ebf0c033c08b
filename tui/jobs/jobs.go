// Package jobs lists the engine's jobs with progress, rate, ETA, cancel and
// errors. It learns about jobs only from the engine's event stream.
package jobs

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/tui/common"
)

type job struct {
	id       engine.JobID
	title    string
	state    engine.JobState
	progress engine.Progress
	started  time.Time
	finished time.Time
	result   any
	err      error
}

type cancelledMsg struct {
	id engine.JobID
	ok bool
}

// Model is the Jobs pane.
type Model struct {
	c    *common.Common
	w, h int
	jobs []*job
	byID map[engine.JobID]*job
	cur  common.Cursor
	note string
}

// New returns the pane.
func New(c *common.Common) *Model { return &Model{c: c, byID: map[engine.JobID]*job{}} }

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) Capturing() bool  { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.layout() }

func (m *Model) layout() {
	m.cur.Visible = max(1, (m.h-1)/3)
	m.cur.N = len(m.jobs)
	m.cur.Clamp()
}

// Running counts running jobs (for the status bar).
func (m *Model) Running() int {
	n := 0
	for _, j := range m.jobs {
		if j.state == engine.JobRunning {
			n++
		}
	}
	return n
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.EventMsg:
		m.apply(msg.Event)
	case cancelledMsg:
		if !msg.ok {
			m.note = fmt.Sprintf("job %d is not running", msg.id)
		}
	case tea.KeyPressMsg:
		km := m.c.Keys
		sel := m.selected()
		switch {
		case key.Matches(msg, km.Jobs.Cancel):
			if sel == nil || m.c.Deps.Jobs == nil {
				return nil
			}
			id, reg := sel.id, m.c.Deps.Jobs
			return func() tea.Msg { return cancelledMsg{id: id, ok: reg.Cancel(id)} }
		case key.Matches(msg, km.Jobs.OpenOutput):
			if sel == nil {
				return nil
			}
			if res, ok := sel.result.(*engine.ConvertResult); ok && sel.state == engine.JobDone && len(res.Files) > 0 {
				p := res.Files[0]
				if len(res.Files) > 1 {
					p = filepath.Dir(p)
				}
				return func() tea.Msg { return common.OpenMsg{Path: p} }
			}
			m.note = "this job has no output to open"
			return nil
		}
		m.cur.Key(m.c.Keys, msg)
	default:
		m.cur.Key(m.c.Keys, msg)
	}
	return nil
}

func (m *Model) apply(ev engine.Event) {
	j, ok := m.byID[ev.Job]
	if !ok {
		j = &job{id: ev.Job, title: ev.Title, started: ev.At}
		m.byID[ev.Job] = j
		m.jobs = append(m.jobs, j)
		m.cur.N = len(m.jobs)
		m.cur.Pos = len(m.jobs) - 1 // follow the newest job
		m.cur.Clamp()
	}
	switch ev.Kind {
	case engine.EventStarted:
		j.state = engine.JobRunning
	case engine.EventProgress:
		j.progress = ev.Progress
	case engine.EventDone:
		j.state, j.result, j.finished, j.progress = engine.JobDone, ev.Result, ev.At, ev.Progress
	case engine.EventFailed:
		j.state, j.err, j.finished = engine.JobFailed, ev.Err, ev.At
	case engine.EventCancelled:
		j.state, j.err, j.finished = engine.JobCancelled, ev.Err, ev.At
	}
	if ev.Kind != engine.EventProgress && ev.Progress.Count > 0 {
		j.progress = ev.Progress
	}
}

func (m *Model) selected() *job {
	if m.cur.Pos < 0 || m.cur.Pos >= len(m.jobs) {
		return nil
	}
	return m.jobs[m.cur.Pos]
}

func (m *Model) View() string {
	s := m.c.Styles
	if len(m.jobs) == 0 {
		return common.Fit(s.Muted.Render("No jobs yet. Start one from Convert (6)."), m.h)
	}
	var b strings.Builder
	from, to := m.cur.Window()
	for i := from; i < to; i++ {
		j := m.jobs[i]
		p := j.progress
		frac := 0.0
		if p.TotalBytes > 0 {
			frac = float64(p.Bytes) / float64(p.TotalBytes)
		} else if p.Count > 0 {
			frac = float64(p.Index) / float64(p.Count)
		}
		if j.state == engine.JobDone {
			frac = 1
		}
		var state string
		switch j.state {
		case engine.JobRunning:
			state = s.Warning.Render("running")
		case engine.JobDone:
			state = s.Success.Render("done")
		case engine.JobFailed:
			state = s.Error.Render("failed")
		case engine.JobCancelled:
			state = s.Muted.Render("cancelled")
		}
		mark := "  "
		if i == m.cur.Pos {
			mark = s.Title.Render("▌ ")
		}
		title := fmt.Sprintf("#%d %s", j.id, j.title)
		b.WriteString(mark + s.Value.Render(common.Pad(title, m.w-14)) + " " + state + "\n")
		bw := max(10, min(40, m.w-52))
		line := s.Bar(bw, frac) + fmt.Sprintf(" %3.0f%%  %d/%d tensors", 100*frac, p.Index, p.Count)
		if p.Elapsed > 0 && p.Bytes > 0 {
			rate := float64(p.Bytes) / p.Elapsed.Seconds()
			line += "  " + common.Bytes(int64(rate)) + "/s"
			if j.state == engine.JobRunning && rate > 0 {
				eta := time.Duration(float64(p.TotalBytes-p.Bytes) / rate * float64(time.Second))
				line += "  ETA " + common.Duration(eta)
			} else {
				line += "  in " + common.Duration(p.Elapsed)
			}
		}
		b.WriteString("  " + line + "\n")
		switch {
		case j.err != nil && j.state == engine.JobFailed:
			b.WriteString("  " + s.Error.Render(common.Truncate(j.err.Error(), m.w-2)) + "\n")
		case j.state == engine.JobDone:
			if res, ok := j.result.(*engine.ConvertResult); ok && len(res.Files) > 0 {
				out := res.Files[0]
				if len(res.Files) > 1 {
					out = fmt.Sprintf("%s (+%d shards)", filepath.Dir(out), len(res.Files)-1)
				}
				b.WriteString("  " + s.Muted.Render(common.Truncate("→ "+out+"  (enter opens it)", m.w-2)) + "\n")
			} else {
				b.WriteString("\n")
			}
		default:
			b.WriteString("  " + s.Muted.Render(common.Truncate(p.Tensor, m.w-2)) + "\n")
		}
	}
	if m.note != "" {
		b.WriteString(s.Muted.Render(m.note))
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	return []key.Binding{km.List.Up, km.List.Down, km.Jobs.Cancel, km.Jobs.OpenOutput}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
