// Package common holds what the root model shares with its panes: sizes,
// styles, keys, the engine handles, the pane contract and the messages panes
// exchange through the root.
package common

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/gpu"
	"mlmf/mapping"
	"mlmf/tui/keymap"
	"mlmf/tui/styles"
)

// Pane is the contract every screen follows (soft-serve's): built with
// New(*Common), sized by the root, and never nested deeper than root → pane.
type Pane interface {
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
	// Capturing reports whether a text field has focus, so that the root
	// passes printable keys to the pane instead of treating them as
	// global bindings.
	Capturing() bool
}

// Deps are the engine handles the TUI works through.
type Deps struct {
	Jobs  *engine.Jobs
	Cache *engine.Cache
	// GPU is the device monitor; nil when none could be opened (GPUErr
	// says why).
	GPU    gpu.Source
	GPUErr error
	// Mapping and Preview are nil until those engine parts exist in the
	// build; their panes then say so.
	Mapping MappingSource
	Preview PreviewSource
	// ConfigDir holds recent.json; empty disables recents.
	ConfigDir string
	// Now is the clock (fixed in golden tests).
	Now func() time.Time
	// GPUInterval is how often the GPU pane polls (0 stops polling).
	GPUInterval time.Duration
}

// Common is shared by the root and every pane.
type Common struct {
	Width, Height int
	Styles        *styles.Styles
	Keys          *keymap.KeyMap
	Deps          Deps
}

// Checkpoint is an opened checkpoint as the panes see it. It is built by a
// command (all IO happens there) and is read-only afterwards.
type Checkpoint struct {
	Path    string
	Reader  formats.Reader
	Summary *engine.Summary
	Infos   []formats.TensorInfo
	// Meta is the metadata to browse: the reader's keys and config.json's,
	// flattened, sorted by key.
	Meta []KV
	// Group is each tensor's layer group (index into Groups) for the tree.
	Group  []int32
	Groups []string
	// Canonical holds canonical names by tensor index once a mapping exists;
	// nil means "not mapped in this build".
	Canonical []string
	// Mapping is the mapping report (nil without a mapping source), or
	// MappingErr why it could not be made.
	Mapping    *MappingReport
	MappingErr error
	// Vocab says whether the checkpoint carries a tokenizer a GGUF export
	// can read (tokenizer.json or tokenizer.model beside it, or a GGUF
	// vocabulary).
	Vocab  bool
	Opened time.Duration

	state cpState
}

// KV is one metadata entry.
type KV struct {
	Source, Key, Value string
	// Type is the override type (int, float, bool, str) that writes the
	// value back to a GGUF file; "" where the value cannot be edited.
	Type string
}

// MappingReport is what the Mapping pane shows.
type MappingReport struct {
	Architecture string
	Reason       string
	Rows         []MappingRow
	Missing      []string
}

// MappingRow is one tensor's mapping.
type MappingRow struct {
	Name, Canonical string
	Status          string // "mapped", "unmapped", "mismatch"
	Suggestions     []string
	// Fixes are the suggestions as rules generalised over blocks, in the
	// same order (nil when the source cannot make rules).
	Fixes []MappingRule
}

// MappingRule is one user mapping rule: a Hugging Face name template
// ({bid} for the block) or a regular expression (Match), and the canonical
// name it maps to.
type MappingRule struct {
	HF, Match, Canonical    string
	Transform, TransformArg string
}

// MappingFix is what the mapping fixer has built: an architecture choice
// ("" detects), rules that take precedence over the built-in ones and name
// templates to skip (kept from a loaded file).
type MappingFix struct {
	Arch  string
	Rules []MappingRule
	Skip  []string
}

// Empty reports whether the fix changes nothing.
func (f MappingFix) Empty() bool { return f.Arch == "" && len(f.Rules) == 0 && len(f.Skip) == 0 }

// MappingRules returns the fix as the mapping package's rules (what
// engine.MapRequest.Rules and engine.ExportRequest.Rules take); source names
// where they come from in error messages.
func (f MappingFix) MappingRules(source string) (*mapping.Rules, error) {
	r := &mapping.Rules{Arch: f.Arch, Skip: slices.Clone(f.Skip), Source: source}
	for _, u := range f.Rules {
		if err := r.Add(mapping.UserRule{HF: u.HF, Match: u.Match, Canonical: u.Canonical, Transform: u.Transform, TransformArg: u.TransformArg}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// MappingFixer is the part of a MappingSource the mapping fixer needs;
// panes check for it by type assertion and stay read-only without it.
type MappingFixer interface {
	// Archs lists the registered architectures.
	Archs() []string
	// Canonicals lists an architecture's canonical name templates.
	Canonicals(arch string) []string
	// Rule makes the rule that maps tensor name to canonical (a name or a
	// template), generalised over blocks.
	Rule(arch, name, canonical string) (MappingRule, error)
	// ReportWith maps the checkpoint with the fix applied.
	ReportWith(ctx context.Context, c *Checkpoint, fix MappingFix) (*MappingReport, error)
	// SaveRules writes the fix as a mapping file; LoadRules reads one.
	SaveRules(path string, fix MappingFix) error
	LoadRules(path string) (MappingFix, error)
}

// MappingSource builds a mapping report for a checkpoint (the mapping
// package plugs in here).
type MappingSource interface {
	Report(ctx context.Context, c *Checkpoint) (*MappingReport, error)
}

// PreviewRow is one tensor's predicted error and size under a target type.
type PreviewRow struct {
	Name                   string
	From, To               string
	RMSE, MaxAbs, SNR, Cos float64
	BytesBefore, BytesAft  int64
}

// PreviewSource runs the engine's preview job (quantization error).
type PreviewSource interface {
	Targets() []string
	Preview(ctx context.Context, c *Checkpoint, target string, progress func(engine.Progress)) ([]PreviewRow, error)
}

// Messages panes and the root exchange.
type (
	// ErrorMsg carries any failure to the status bar.
	ErrorMsg struct{ Err error }
	// OpenMsg asks the root to open a checkpoint. Reload reopens the same
	// checkpoint after a change on disk and keeps the active pane.
	OpenMsg struct {
		Path   string
		Reload bool
	}
	// OpeningMsg tells panes an open has started.
	OpeningMsg struct {
		Path  string
		Start time.Time
	}
	// OpenedMsg carries a freshly opened checkpoint to every pane; Reload
	// marks a reopen of the same checkpoint (OpenMsg.Reload).
	OpenedMsg struct {
		Checkpoint *Checkpoint
		Reload     bool
	}
	// MappingMsg tells panes the mapping changed (the fixer re-ran the
	// report): Canonical holds canonical names by tensor index.
	MappingMsg struct {
		Checkpoint *Checkpoint
		Canonical  []string
	}
	// MappingFixMsg tells panes what the mapping fixer has built for the
	// checkpoint (sent after every change, save and load): the Convert
	// form passes it on to a GGUF export. Unsaved marks rules changed since
	// the last save or load; File is that mapping file.
	MappingFixMsg struct {
		Checkpoint *Checkpoint
		Fix        MappingFix
		Unsaved    bool
		File       string
	}
	// OpenFailedMsg reports a failed open.
	OpenFailedMsg struct {
		Path string
		Err  error
	}
	// InspectMsg asks the root to show tensor Index in the Inspect pane.
	// Seq orders it with SelectMsg: commands deliver their messages in
	// any order, and an older selection must not override a newer one.
	InspectMsg struct{ Index, Seq int }
	// SelectMsg tells panes which tensor is selected.
	SelectMsg struct{ Index, Seq int }
	// EventMsg forwards one engine event.
	EventMsg struct{ Event engine.Event }
	// JobStartedMsg tells the root a pane started a job.
	JobStartedMsg struct {
		ID    engine.JobID
		Title string
	}
	// ShowPaneMsg asks the root to switch panes.
	ShowPaneMsg struct{ Pane PaneID }
	// ActivateMsg tells a pane it has just become visible.
	ActivateMsg struct{}
	// TickMsg is the root's 1 s clock (elapsed times, GPU polling).
	TickMsg struct{ At time.Time }
)

// PaneID names the tabs.
type PaneID int

const (
	PaneTensors PaneID = iota
	PaneInspect
	PaneMetadata
	PaneMapping
	PanePreview
	PaneConvert
	PaneJobs
	PaneGPU
	NumTabs
	// PaneOpen and PaneHelp are screens outside the tab bar.
	PaneOpen PaneID = 100
	PaneHelp PaneID = 101
)

// Statuser is implemented by panes that add to the status bar.
type Statuser interface {
	Status() string
}

// Error wraps err in a command that reports it.
func Error(err error) tea.Cmd {
	return func() tea.Msg { return ErrorMsg{Err: err} }
}

// Bytes formats a byte count with binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Count formats a large count with K/M/B suffixes.
func Count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// Shape formats a tensor shape as [a, b].
func Shape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Duration formats a duration for progress lines.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

// Truncate cuts s to width cells with an ellipsis.
func Truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if lipgloss.Width(s) <= width {
		return s
	}
	r := []rune(s)
	if width == 1 {
		return "…"
	}
	for len(r) > 0 && lipgloss.Width(string(r)) > width-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// Pad pads s with spaces to width cells (cutting it when longer).
func Pad(s string, width int) string {
	s = Truncate(s, width)
	if w := lipgloss.Width(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// PadLeft right-aligns s in width cells.
func PadLeft(s string, width int) string {
	s = Truncate(s, width)
	if w := lipgloss.Width(s); w < width {
		s = strings.Repeat(" ", width-w) + s
	}
	return s
}

// Wrap wraps plain text to width cells at spaces.
func Wrap(s string, width int) string {
	return lipgloss.Wrap(s, max(10, width), " ")
}

// Fit cuts or pads a rendered block to exactly h lines.
func Fit(s string, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
