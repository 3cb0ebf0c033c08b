// Package convert is the Convert form: every conversion the CLI's
// `mlmf convert` and `mlmf quantize` do — safetensors (engine.Convert), GGUF
// (engine.ExportGGUF, with the mapping fixer's rules), a Hugging Face
// directory (engine.ExportHF) and, from a GGUF, a requantization
// (engine.Quantize) — with the type or preset valid for the target, the
// llama-quantize overrides, shard size, vocabulary and output path. The form
// is validated before a job starts; the job goes through the engine's job
// registry.
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
	"charm.land/lipgloss/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
)

// Target names.
const (
	TargetSafetensors = "safetensors"
	TargetGGUF        = "gguf"
	TargetHF          = "hf"
	TargetQuantize    = "quantize"
)

// SafetensorsDTypes are the dtype choices of a safetensors output ("keep"
// leaves tensors as they are).
var SafetensorsDTypes = []string{"keep", "BF16", "F16", "F32", "F8_E4M3", "F8_E5M2"}

// HFDTypes are the dtype choices of a Hugging Face directory.
var HFDTypes = []string{"keep", "F32", "F16", "BF16"}

// GGUFTypes are the type choices of a GGUF export: convert_hf_to_gguf.py's
// types, then llama-quantize presets.
var GGUFTypes = append(append([]string{}, engine.GGUFTypes...), presetsExcept("Q8_0")...)

// QuantizePresets are the choices of a requantization.
var QuantizePresets = append(append([]string{}, engine.GGUFPresets...), "F16", "BF16", "F32")

func presetsExcept(skip string) []string {
	var out []string
	for _, p := range engine.GGUFPresets {
		if p != skip {
			out = append(out, p)
		}
	}
	return out
}

// Targets lists the targets for a source format: GGUF sources become an HF
// directory or are requantized; the rest become safetensors, GGUF or HF.
func Targets(format string) []string {
	if format == "gguf" {
		return []string{TargetHF, TargetQuantize}
	}
	return []string{TargetSafetensors, TargetGGUF, TargetHF}
}

// field identifies a row of the form.
type field int

const (
	fieldTarget field = iota
	fieldType
	fieldTensorTypes
	fieldOutType
	fieldEmbType
	fieldShard
	fieldVocab
	fieldDrop
	fieldOutput
	fieldStart
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
	c    *common.Common
	w, h int
	cp   *common.Checkpoint

	focus  field
	target int
	types  map[string]int // the chosen type of each target
	noVoc  bool
	drop   bool
	inputs map[field]*common.Input

	editing  bool
	err      error
	started  string
	outTouch bool

	fix     common.MappingFix
	unsaved bool
	file    string
}

// New returns the pane.
func New(c *common.Common) *Model {
	m := &Model{c: c, types: map[string]int{}, inputs: map[field]*common.Input{}}
	for _, f := range []field{fieldTensorTypes, fieldOutType, fieldEmbType, fieldShard, fieldOutput} {
		m.inputs[f] = &common.Input{}
	}
	m.inputs[fieldShard].Value = "0"
	return m
}

func (m *Model) Init() tea.Cmd    { return nil }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }
func (m *Model) Capturing() bool  { return m.editing }

// Target is the chosen target.
func (m *Model) Target() string {
	t := m.targets()
	if len(t) == 0 {
		return ""
	}
	return t[m.target%len(t)]
}

func (m *Model) targets() []string {
	if m.cp == nil {
		return nil
	}
	return Targets(m.cp.Summary.Format)
}

func typeChoices(target string) []string {
	switch target {
	case TargetGGUF:
		return GGUFTypes
	case TargetHF:
		return HFDTypes
	case TargetQuantize:
		return QuantizePresets
	}
	return SafetensorsDTypes
}

// Type is the chosen type, dtype or preset.
func (m *Model) Type() string {
	c := typeChoices(m.Target())
	return c[m.types[m.Target()]%len(c)]
}

func isPreset(t string) bool {
	for _, p := range engine.GGUFTypes {
		if strings.EqualFold(p, t) {
			return false
		}
	}
	return true
}

// fields are the rows the chosen target shows, in order.
func (m *Model) fields() []field {
	fs := []field{fieldTarget, fieldType}
	switch m.Target() {
	case TargetSafetensors:
		fs = append(fs, fieldShard)
	case TargetGGUF:
		fs = append(fs, fieldTensorTypes, fieldOutType, fieldEmbType, fieldVocab, fieldDrop)
	case TargetHF:
		fs = append(fs, fieldShard)
		if m.cp != nil && m.cp.Summary.Format == "gguf" {
			fs = append(fs, fieldVocab)
		}
	case TargetQuantize:
		fs = append(fs, fieldTensorTypes, fieldOutType, fieldEmbType)
	}
	return append(fs, fieldOutput, fieldStart)
}

// Plan is a validated form: exactly one of the requests is set.
type Plan struct {
	Target   string
	Output   string
	Convert  *engine.ConvertRequest
	Export   *engine.ExportRequest
	HF       *engine.HFExportRequest
	Quantize *engine.QuantizeRequest
	// Rules says which mapping rules the GGUF export uses.
	Rules string
}

// Request validates the form without touching the disk (the start command
// checks the output path) and returns what it would run.
func (m *Model) Request() (Plan, error) {
	var p Plan
	if m.cp == nil {
		return p, errors.New("open a checkpoint first")
	}
	p.Target = m.Target()
	src := m.cp.Path
	out := strings.TrimSpace(m.inputs[fieldOutput].Value)
	typ := m.Type()
	tensorTypes := strings.Fields(m.inputs[fieldTensorTypes].Value)
	outType, embType := strings.TrimSpace(m.inputs[fieldOutType].Value), strings.TrimSpace(m.inputs[fieldEmbType].Value)
	overrides := len(tensorTypes) > 0 || outType != "" || embType != ""
	shardText := m.inputs[fieldShard].Value
	shard, err := ParseSize(shardText)
	if err != nil {
		return p, fmt.Errorf("shard size: %w (examples: 0 for one file, 500MB, 5GB, 2GiB)", err)
	}
	if out == "" {
		return p, errors.New("output path: enter where to write the result")
	}
	if filepath.Clean(out) == filepath.Clean(src) {
		return p, errors.New("output path: it is the source; choose another path")
	}
	p.Output = out
	switch p.Target {
	case TargetSafetensors:
		req := &engine.ConvertRequest{Source: src, Output: out, ShardSize: shard}
		if typ != "keep" {
			if req.DType, err = formats.ParseDType(typ); err != nil {
				return p, err
			}
		}
		if shard == 0 && !strings.HasSuffix(out, ".safetensors") {
			return p, errors.New("output path: a single-file output should end in .safetensors")
		}
		p.Convert = req
	case TargetGGUF:
		req := &engine.ExportRequest{Source: src, Output: out, NoVocab: m.noVoc, DropUnmapped: m.drop}
		if err := engine.ExportTypes(req, typ, tensorTypes, outType, embType); err != nil {
			return p, errors.New(formErr(err))
		}
		if !m.noVoc && !m.cp.Vocab {
			return p, errors.New("vocabulary: the source has no tokenizer.json or tokenizer.model; choose none (llama.cpp then needs a vocabulary from elsewhere)")
		}
		if !strings.HasSuffix(out, ".gguf") {
			return p, errors.New("output path: a GGUF output should end in .gguf")
		}
		p.Rules = "built-in"
		if !m.fix.Empty() {
			r, err := m.fix.MappingRules("mapping fixer")
			if err != nil {
				return p, fmt.Errorf("mapping rules: %w", err)
			}
			req.Rules = r
			p.Rules = m.rulesText()
		}
		p.Export = req
	case TargetHF:
		req := &engine.HFExportRequest{Source: src, Output: out, ShardSize: shard, NoVocab: m.noVoc}
		if typ != "keep" {
			if req.DType, err = formats.ParseDType(typ); err != nil {
				return p, err
			}
		}
		if strings.TrimSpace(shardText) == "" || shard == 0 {
			req.ShardSize = 0 // the engine's default: 5GB, as save_pretrained
		}
		if ext := filepath.Ext(out); ext == ".safetensors" || ext == ".gguf" {
			return p, fmt.Errorf("output path: an hf output is a directory; drop the %s extension", ext)
		}
		p.HF = req
	case TargetQuantize:
		opt, err := engine.QuantOptions(typ, tensorTypes, outType, embType)
		if err != nil {
			return p, errors.New(formErr(err))
		}
		if !strings.HasSuffix(out, ".gguf") {
			return p, errors.New("output path: a GGUF output should end in .gguf")
		}
		p.Quantize = &engine.QuantizeRequest{Input: src, Output: out, Options: opt}
	default:
		return p, fmt.Errorf("target %q: choose safetensors, gguf, hf or quantize", p.Target)
	}
	if overrides && p.Export == nil && p.Quantize == nil {
		return p, errors.New("overrides apply to gguf and quantize")
	}
	return p, nil
}

// formErr words an engine option error for the form: the flags become the
// form's field names.
func formErr(err error) string {
	r := strings.NewReplacer("--tensor-type", "tensor types", "--output-tensor-type", "output type",
		"--token-embedding-type", "embedding type", "--type", "type", "quant: ", "")
	return r.Replace(err.Error())
}

// rulesText says which mapping rules a GGUF export applies.
func (m *Model) rulesText() string {
	if m.fix.Empty() {
		return "built-in (the fixer has no rules)"
	}
	var parts []string
	if n := len(m.fix.Rules); n > 0 {
		s := fmt.Sprintf("%d rule", n)
		if n > 1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	if m.fix.Arch != "" {
		parts = append(parts, "arch "+m.fix.Arch)
	}
	if n := len(m.fix.Skip); n > 0 {
		parts = append(parts, fmt.Sprintf("%d skip(s)", n))
	}
	t := "fixer: " + strings.Join(parts, ", ")
	switch {
	case m.unsaved:
		t += " (unsaved)"
	case m.file != "":
		t += " (" + m.file + ")"
	}
	return t
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

// defaultOutput derives the output path from the source name, the target
// and the type: beside the source, never the source itself.
func (m *Model) defaultOutput() string {
	if m.cp == nil {
		return ""
	}
	src := strings.TrimRight(m.cp.Path, string(filepath.Separator))
	base := filepath.Base(src)
	for _, ext := range []string{".safetensors", ".gguf"} {
		base = strings.TrimSuffix(base, ext)
	}
	typ := strings.ToLower(m.Type())
	var name string
	switch m.Target() {
	case TargetSafetensors:
		if typ == "keep" {
			typ = "copy"
		}
		name = base + "-" + typ
		if sz, _ := ParseSize(m.inputs[fieldShard].Value); sz == 0 {
			name += ".safetensors"
		}
	case TargetGGUF:
		if typ == "auto" {
			name = base + ".gguf"
		} else {
			name = base + "-" + typ + ".gguf"
		}
	case TargetHF:
		if typ == "keep" {
			name = base + "-hf"
		} else {
			name = base + "-" + typ + "-hf"
		}
	case TargetQuantize:
		name = base + "-" + typ + ".gguf"
	}
	return filepath.Join(filepath.Dir(src), name)
}

func (m *Model) refreshOutput() {
	if !m.outTouch {
		m.inputs[fieldOutput].Value = m.defaultOutput()
	}
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		same := m.cp != nil && msg.Checkpoint != nil && m.cp.Path == msg.Checkpoint.Path
		m.cp, m.err, m.started = msg.Checkpoint, nil, ""
		if !same {
			m.target, m.focus, m.noVoc, m.drop = 0, fieldTarget, false, false
			m.fix, m.unsaved, m.file = common.MappingFix{}, false, ""
		}
		if m.cp != nil && !m.cp.Vocab {
			// no tokenizer to write: the GGUF has no vocabulary (said on screen)
			m.noVoc = true
		}
		m.refreshOutput()
	case common.MappingFixMsg:
		if msg.Checkpoint == m.cp {
			m.fix, m.unsaved, m.file = msg.Fix, msg.Unsaved, msg.File
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
		if m.cp == nil {
			return nil
		}
		return m.key(msg)
	}
	return nil
}

func (m *Model) isText(f field) bool { _, ok := m.inputs[f]; return ok }

func (m *Model) move(d int) {
	fs := m.fields()
	i := 0
	for k, f := range fs {
		if f == m.focus {
			i = k
		}
	}
	m.focus = fs[(i+d+len(fs))%len(fs)]
}

// clampFocus keeps the focus on a row the target shows.
func (m *Model) clampFocus() {
	for _, f := range m.fields() {
		if f == m.focus {
			return
		}
	}
	m.focus = fieldType
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	if key.Matches(msg, km.Form.Submit) {
		m.editing = false
		m.syncFocus()
		return m.submit()
	}
	if m.editing {
		in := m.inputs[m.focus]
		switch {
		case key.Matches(msg, km.Input.Cancel):
			m.editing = false
		case key.Matches(msg, km.Input.Accept):
			m.editing = false
			m.move(1)
		case msg.String() == "tab" || msg.String() == "shift+tab" || msg.String() == "up" || msg.String() == "down":
			m.editing = false
			return m.key(msg)
		default:
			if changed, _ := in.Update(km, msg); changed {
				m.err = nil
				if m.focus == fieldOutput {
					m.outTouch = true
				} else {
					m.refreshOutput()
				}
			}
		}
		m.syncFocus()
		return nil
	}
	switch {
	case key.Matches(msg, km.Form.Next):
		m.move(1)
	case key.Matches(msg, km.Form.Prev):
		m.move(-1)
	case key.Matches(msg, km.Convert.DefaultOutput):
		m.outTouch = false
		m.refreshOutput()
		m.err = nil
	case key.Matches(msg, km.Form.Left), key.Matches(msg, km.Form.Right), key.Matches(msg, km.Convert.Toggle) && !m.isText(m.focus):
		d := 1
		if key.Matches(msg, km.Form.Left) {
			d = -1
		}
		switch m.focus {
		case fieldTarget:
			n := len(m.targets())
			m.target = (m.target + d + n) % n
			m.clampFocus()
		case fieldType:
			n := len(typeChoices(m.Target()))
			m.types[m.Target()] = (m.types[m.Target()] + d + n) % n
		case fieldVocab:
			m.noVoc = !m.noVoc
		case fieldDrop:
			m.drop = !m.drop
		}
		m.refreshOutput()
		m.err = nil
	case key.Matches(msg, km.Input.Accept):
		switch {
		case m.isText(m.focus):
			m.editing = true
		case m.focus == fieldStart:
			return m.submit()
		default:
			m.move(1)
		}
	default:
		// typing on a text field starts editing it
		if m.isText(m.focus) && msg.Text != "" {
			m.editing = true
			m.syncFocus()
			return m.key(msg)
		}
	}
	m.syncFocus()
	return nil
}

func (m *Model) syncFocus() {
	for f, in := range m.inputs {
		in.Focused = m.editing && m.focus == f
	}
}

// submit validates the form and, in a command, checks the output path and
// starts the job.
func (m *Model) submit() tea.Cmd {
	p, err := m.Request()
	if err != nil {
		m.err = err
		return nil
	}
	m.err = nil
	jobs := m.c.Deps.Jobs
	title := m.title(p)
	return func() tea.Msg {
		if err := checkOutput(p); err != nil {
			return invalidMsg{err}
		}
		id := jobs.Start("convert", title, func(ctx context.Context, prog func(engine.Progress)) (any, error) {
			return run(ctx, p, prog)
		})
		return startedMsg{id: id, out: p.Output}
	}
}

func (m *Model) title(p Plan) string {
	verb := "convert"
	if p.Quantize != nil {
		verb = "quantize"
	}
	t := fmt.Sprintf("%s %s → %s", verb, filepath.Base(strings.TrimRight(m.cp.Path, "/")), filepath.Base(p.Output))
	if typ := m.Type(); typ != "keep" && typ != "auto" {
		t += " (" + typ + ")"
	}
	return t
}

// run is the job: the engine call of the plan. Its result is an
// engine.ConvertResult naming the output, which the Jobs pane opens.
func run(ctx context.Context, p Plan, prog func(engine.Progress)) (any, error) {
	switch {
	case p.Convert != nil:
		return engine.Convert(ctx, *p.Convert, prog)
	case p.Export != nil:
		r, err := engine.ExportGGUF(ctx, *p.Export, prog)
		if err != nil {
			return nil, err
		}
		return &engine.ConvertResult{Files: []string{p.Output}, Tensors: r.Tensors, Bytes: r.Bytes, Elapsed: r.Elapsed}, nil
	case p.HF != nil:
		r, err := engine.ExportHF(ctx, *p.HF, prog)
		if err != nil {
			return nil, err
		}
		return &engine.ConvertResult{Files: []string{p.Output}, Tensors: r.Tensors, Bytes: r.Bytes, Elapsed: r.Elapsed}, nil
	case p.Quantize != nil:
		r, err := engine.Quantize(ctx, *p.Quantize, prog)
		if err != nil {
			return nil, err
		}
		return &engine.ConvertResult{Files: r.Files, Tensors: len(r.Decisions), Bytes: r.OutBytes, Elapsed: r.Elapsed}, nil
	}
	return nil, errors.New("convert: nothing to do")
}

// checkOutput refuses to overwrite (except an hf directory that holds a
// model, which the export replaces as a whole, or an empty one) and wants
// the parent directory to exist.
func checkOutput(p Plan) error {
	if st, err := os.Stat(p.Output); err == nil {
		if p.HF != nil && st.IsDir() {
			ents, err := os.ReadDir(p.Output)
			if err != nil {
				return fmt.Errorf("output path: %w", err)
			}
			if len(ents) == 0 {
				return nil
			}
			if _, err := os.Stat(filepath.Join(p.Output, "config.json")); err == nil {
				return nil
			}
			return fmt.Errorf("output path: %s is a directory that holds no model (config.json); choose another path or empty it", p.Output)
		}
		return fmt.Errorf("output path: %s already exists; choose another path or remove it", p.Output)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output path: %w", err)
	}
	dir := filepath.Dir(p.Output)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("output path: directory %s does not exist", dir)
	}
	return nil
}

var labels = map[field]string{
	fieldTarget: "format", fieldType: "type", fieldTensorTypes: "tensor types", fieldOutType: "output type",
	fieldEmbType: "embedding type", fieldShard: "shard size", fieldVocab: "vocabulary", fieldDrop: "unmapped",
	fieldOutput: "output",
}

func (m *Model) View() string {
	s := m.c.Styles
	if m.cp == nil {
		return common.Fit(s.Muted.Render("Open a checkpoint to convert it."), m.h)
	}
	var b strings.Builder
	b.WriteString(s.Title.Render("Convert "+common.Truncate(m.cp.Path, m.w-10)) + "\n")
	b.WriteString(s.Muted.Render(common.Truncate(fmt.Sprintf("%s · %d tensors · %s", m.cp.Summary.Format, m.cp.Summary.TensorCount, common.Bytes(m.cp.Summary.TotalBytes)), m.w)) + "\n\n")
	lw := 16
	vw := max(10, m.w-lw-2)
	note := func(st lipgloss.Style, text string) {
		for _, l := range strings.Split(common.Wrap(text, vw), "\n") {
			b.WriteString(strings.Repeat(" ", lw+2) + st.Render(strings.TrimRight(l, " ")) + "\n")
		}
	}
	target := m.Target()
	preset := target == TargetQuantize || target == TargetGGUF && isPreset(m.Type())
	for _, f := range m.fields() {
		if f == fieldStart {
			break
		}
		mark := "  "
		if f == m.focus {
			mark = s.Title.Render("▸ ")
		}
		label := labels[f]
		if f == fieldType {
			switch target {
			case TargetGGUF:
				label = "type / preset"
			case TargetQuantize:
				label = "preset"
			case TargetSafetensors, TargetHF:
				label = "dtype"
			}
		}
		var value string
		switch f {
		case fieldTarget:
			value = m.choice(f, m.targets(), m.target%len(m.targets()), vw)
		case fieldType:
			c := typeChoices(target)
			value = m.choice(f, c, m.types[target]%len(c), vw)
		case fieldVocab:
			sel := 0
			if m.noVoc {
				sel = 1
			}
			value = m.choice(f, []string{"include", "none"}, sel, vw)
		case fieldDrop:
			sel := 0
			if m.drop {
				sel = 1
			}
			value = m.choice(f, []string{"refuse", "drop"}, sel, vw)
		default:
			value = m.inputView(f, vw)
			if m.inputs[f].Value == "" && !m.inputs[f].Focused {
				value = s.Muted.Render(placeholder(f, preset))
			}
		}
		b.WriteString(mark + s.Label.Render(common.Pad(label, lw)) + value + "\n")
		switch {
		case f == fieldVocab && m.noVoc && target == TargetGGUF && !m.cp.Vocab:
			note(s.Warning, "no tokenizer in the source: no vocabulary is written, and llama.cpp needs one to run the file")
		case f == fieldVocab && m.noVoc && target == TargetGGUF:
			note(s.Warning, "no vocabulary: llama.cpp cannot run the file without one")
		}
	}
	// which mapping rules apply
	rules := m.rulesText()
	switch target {
	case TargetGGUF:
		b.WriteString("  " + s.Label.Render(common.Pad("mapping rules", lw)) + s.Value.Render(common.Truncate(rules, vw)) + "\n")
	case TargetSafetensors, TargetHF:
		if !m.fix.Empty() {
			b.WriteString("  " + s.Label.Render(common.Pad("mapping rules", lw)) +
				s.Muted.Render(common.Truncate(rules+": not applied ("+target+" keeps the source's names)", vw)) + "\n")
		}
	}
	b.WriteString("\n")
	btn := "[ Start conversion ]"
	if target == TargetQuantize {
		btn = "[ Start quantization ]"
	}
	if m.focus == fieldStart {
		b.WriteString("  " + s.TabActive.Render(btn) + "\n")
	} else {
		b.WriteString("  " + s.Value.Render(btn) + "\n")
	}
	b.WriteString("\n")
	switch {
	case m.err != nil:
		b.WriteString(s.Error.Render(common.Wrap("✗ "+m.err.Error(), m.w)) + "\n")
	case m.started != "":
		b.WriteString(s.Success.Render(common.Truncate("✓ "+m.started, m.w)) + "\n")
	default:
		b.WriteString(s.Muted.Render(common.Wrap(hint(target), m.w)) + "\n")
	}
	return common.Fit(b.String(), m.h)
}

func placeholder(f field, preset bool) string {
	switch f {
	case fieldTensorTypes:
		if preset {
			return "REGEX=TYPE … (e.g. ffn_down=Q6_K)"
		}
		return "with a preset: REGEX=TYPE …"
	case fieldOutType, fieldEmbType:
		if preset {
			return "preset's (e.g. Q8_0)"
		}
		return "with a preset"
	}
	return ""
}

func hint(target string) string {
	switch target {
	case TargetGGUF:
		return "auto keeps the source's 16-bit type; norms stay F32. A preset quantizes as llama-quantize would."
	case TargetHF:
		return "Writes config.json, tokenizer and safetensors shards (0: 5GB shards)."
	case TargetQuantize:
		return "Requantizes every tensor as llama-quantize does."
	}
	return "Integer and bool tensors are never cast. 0 shard size writes one file."
}

// choice renders a row of options, scrolled to keep the selection visible
// in w cells.
func (m *Model) choice(f field, opts []string, sel, w int) string {
	s := m.c.Styles
	parts := make([]string, len(opts))
	for k, o := range opts {
		switch {
		case k == sel && f == m.focus:
			parts[k] = s.Selected.Render(" " + o + " ")
		case k == sel:
			parts[k] = s.Value.Render("[" + o + "]")
		default:
			parts[k] = s.Muted.Render(" " + o + " ")
		}
	}
	from, to := 0, len(parts)
	width := func() int {
		n := 0
		for _, p := range parts[from:to] {
			n += lipgloss.Width(p)
		}
		if from > 0 {
			n++
		}
		if to < len(parts) {
			n++
		}
		return n
	}
	for width() > w && to-from > 1 {
		if sel-from > to-1-sel {
			from++
		} else {
			to--
		}
	}
	out := strings.Join(parts[from:to], "")
	if from > 0 {
		out = s.Muted.Render("‹") + out
	}
	if to < len(parts) {
		out += s.Muted.Render("›")
	}
	return out
}

func (m *Model) inputView(f field, w int) string {
	in := m.inputs[f]
	if in.Focused {
		return in.View(m.c.Styles, w)
	}
	v := common.Truncate(in.Value, w)
	if f == m.focus {
		return m.c.Styles.Selected.Render(v)
	}
	return m.c.Styles.Value.Render(v)
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	if m.editing {
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Form.Submit}
	}
	return []key.Binding{km.Form.Next, km.Form.Left, km.Form.Right, km.Form.Submit, km.Convert.DefaultOutput}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	return [][]key.Binding{{km.Form.Next, km.Form.Prev, km.Form.Left, km.Form.Right, km.Form.Submit},
		{km.Convert.Toggle, km.Convert.DefaultOutput}}
}
