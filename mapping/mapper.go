package mapping

import (
	"fmt"
	"sort"
	"strings"

	"mlmf/formats"
)

// Mapper maps tensor names of one architecture between HF and canonical
// names, with user rules taking precedence over the built-in ones. A Mapper
// is immutable and safe for concurrent use.
type Mapper struct {
	arch  *Arch
	cfg   *ModelConfig
	vars  map[string]int64
	ca    *compiledArch
	user  *compiledArch
	regex []regexRule
	rules *Rules
}

// NewMapper returns a mapper for the named architecture (a registry name,
// an HF class name or a model_type). cfg may be nil: shapes are then not
// checked and block counts are inferred from the names. rules may be nil; when
// arch is empty the rules' architecture is used.
func NewMapper(arch string, cfg *ModelConfig, rules *Rules) (*Mapper, error) {
	if arch == "" && rules != nil {
		arch = rules.Arch
	}
	if arch == "" {
		return nil, fmt.Errorf("mapping: no architecture given: detect one with Detect or pass --arch: %w", ErrUnknownArch)
	}
	a, err := Lookup(arch)
	if err != nil {
		return nil, err
	}
	ca, err := a.compile()
	if err != nil {
		return nil, err
	}
	m := &Mapper{arch: a, cfg: cfg, vars: ShapeVars(cfg), ca: ca, rules: rules}
	if rules != nil {
		m.user, m.regex, err = rules.compile()
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Arch returns the mapper's architecture.
func (m *Mapper) Arch() *Arch { return m.arch }

// Mapping is one HF tensor and the canonical tensor it becomes.
type Mapping struct {
	HF string `json:"hf"`
	// Canonical is the GGUF tensor name; for a fused tensor that export
	// splits, the first part (all parts are in Parts).
	Canonical string   `json:"canonical"`
	Parts     []string `json:"parts,omitempty"`
	// Expert is the index of this tensor in a stacked canonical tensor
	// (MoE experts, StableLM per-head norms); nil otherwise.
	Expert *int `json:"expert,omitempty"`
	// Block is the block index, -1 for tensors outside blocks.
	Block int `json:"block"`
	// Shape is the tensor's shape (empty when the caller gave none) and
	// Expected the shape the config implies (-1: unchecked dimension).
	Shape     []int64    `json:"shape,omitempty"`
	Expected  []int64    `json:"expected,omitempty"`
	Transform *Transform `json:"transform,omitempty"`
	DType     DTypeHint  `json:"dtype,omitempty"`
	// Rule names where the rule came from: the architecture, or the user
	// mapping file and line.
	Rule string `json:"rule"`
}

// ToCanonical maps an HF tensor name. The second result is false when no rule
// matches (or the name is one converters skip: see Skipped).
func (m *Mapper) ToCanonical(name string) (Mapping, bool) {
	mp, _, ok := m.resolve(name)
	return mp, ok
}

// Skipped reports whether converters drop this tensor on purpose (buffers,
// tied copies, poolers), by the architecture's or the user's skip list.
func (m *Mapper) Skipped(name string) bool {
	if m.user != nil && m.user.skipped(name) {
		return true
	}
	for _, n := range m.candidates(name) {
		if m.ca.skipped(n.name) {
			return true
		}
	}
	return false
}

type candidate struct {
	name   string // name to match
	prefix string // wrap prefix that was removed
	trim   string // implied prefix that was added
}

// candidates are the spellings of a name to try against the built-in rules:
// as is, without a wrapper prefix, with the implied prefix.
func (m *Mapper) candidates(name string) []candidate {
	out := []candidate{{name: name}}
	for _, p := range m.arch.WrapPrefixes {
		if strings.HasPrefix(name, p) {
			out = append(out, candidate{name: name[len(p):], prefix: p})
		}
	}
	// Multimodal wrappers keep the language model under a language_model
	// module (Llava's language_model.model.layers…, transformers 5's
	// model.language_model.layers…): match it as the bare text model.
	if i := strings.Index(name, "language_model."); i >= 0 && (i == 0 || name[i-1] == '.') {
		rest := name[:i] + name[i+len("language_model."):]
		if strings.HasPrefix(rest, "model.model.") {
			rest = rest[len("model."):]
		}
		out = append(out, candidate{name: rest, prefix: name[:i] + "language_model."})
	}
	if ip := m.arch.ImpliedPrefix; ip != "" {
		for _, c := range out {
			if !strings.HasPrefix(c.name, ip) {
				out = append(out, candidate{name: ip + c.name, prefix: c.prefix, trim: ip})
				break
			}
		}
	}
	return out
}

// resolve maps a name; the leaf is nil for regex rules.
func (m *Mapper) resolve(name string) (Mapping, *leaf, bool) {
	if m.user != nil {
		if l, bid, xid := m.user.lookupHF(name); l != nil {
			return m.makeMapping(name, l, bid, xid), l, true
		}
	}
	for _, r := range m.regex {
		if mp, ok := r.apply(name); ok {
			return mp, nil, true
		}
	}
	for _, c := range m.candidates(name) {
		if l, bid, xid := m.ca.lookupHF(c.name); l != nil {
			return m.makeMapping(name, l, bid, xid), l, true
		}
	}
	return Mapping{}, nil, false
}

func (m *Mapper) makeMapping(name string, l *leaf, bid, xid int) Mapping {
	mp := Mapping{HF: name, Block: bid, DType: l.dtype, Rule: l.source}
	for _, c := range l.canonFull {
		mp.Parts = append(mp.Parts, c.expand(bid, -1))
	}
	mp.Canonical = mp.Parts[0]
	if len(mp.Parts) == 1 {
		mp.Parts = nil
	}
	if l.stacked && xid >= 0 {
		x := xid
		mp.Expert = &x
	}
	if l.transform.Op != "" {
		t := l.transform
		mp.Transform = &t
	}
	mp.Expected = l.shape.eval(m.vars)
	return mp
}

// ToHF maps a canonical name back to HF names: one name, or for a stacked
// tensor one per expert in order, or for a part of a split tensor the fused
// HF tensor. It uses each rule's first HF spelling; Report.HFNames gives the
// spelling a checkpoint actually used.
func (m *Mapper) ToHF(canonical string) ([]string, bool) {
	for _, ca := range []*compiledArch{m.user, m.ca} {
		if ca == nil {
			continue
		}
		ls, bid, _ := ca.lookupCanon(canonical)
		if len(ls) == 0 {
			continue
		}
		l := ls[0]
		if l.stacked {
			n := m.vars[l.count]
			if n <= 0 || n > maxIndex {
				return nil, false
			}
			out := make([]string, n)
			for x := range out {
				out[x] = l.hf.expand(bid, x)
			}
			return out, true
		}
		return []string{l.hf.expand(bid, -1)}, true
	}
	return nil, false
}

// Report is the outcome of mapping a checkpoint's tensors. Every slice is
// non-nil so that the JSON form always has the keys.
type Report struct {
	Arch     string `json:"arch"`
	GGUFArch string `json:"gguf_arch"`
	// Blocks is the block count used for missing-tensor checks (from the
	// config, else inferred from the names).
	Blocks          int             `json:"blocks"`
	Mapped          []Mapping       `json:"mapped"`
	Skipped         []string        `json:"skipped"`
	Unmapped        []Unmapped      `json:"unmapped"`
	Missing         []Missing       `json:"missing"`
	ShapeMismatches []ShapeMismatch `json:"shape_mismatches"`
	Collisions      []Collision     `json:"collisions"`
	Summary         Summary         `json:"summary"`

	vars map[string]int64 // config variables, for Plan
}

// Unmapped is a tensor no rule maps, with the reason when a rule came close.
type Unmapped struct {
	Name   string  `json:"name"`
	Shape  []int64 `json:"shape,omitempty"`
	Reason string  `json:"reason,omitempty"`
}

// Missing is a required canonical tensor no HF tensor provides.
type Missing struct {
	Canonical string `json:"canonical"`
	Expert    *int   `json:"expert,omitempty"`
	// HF is the name the architecture expects for it.
	HF string `json:"hf,omitempty"`
}

// ShapeMismatch is a mapped tensor whose shape disagrees with the config.
type ShapeMismatch struct {
	HF        string  `json:"hf"`
	Canonical string  `json:"canonical"`
	Shape     []int64 `json:"shape"`
	Expected  []int64 `json:"expected"`
}

// Collision is a canonical tensor (or expert slot) claimed by several HF
// tensors.
type Collision struct {
	Canonical string   `json:"canonical"`
	Expert    *int     `json:"expert,omitempty"`
	HF        []string `json:"hf"`
}

// Summary counts the report's lists; OK is true when everything mapped, no
// required tensor is missing, no shape disagrees and nothing collides.
type Summary struct {
	Tensors         int  `json:"tensors"`
	Mapped          int  `json:"mapped"`
	Skipped         int  `json:"skipped"`
	Unmapped        int  `json:"unmapped"`
	Missing         int  `json:"missing"`
	ShapeMismatches int  `json:"shape_mismatches"`
	Collisions      int  `json:"collisions"`
	OK              bool `json:"ok"`
}

// Report maps every tensor and checks the result against the architecture:
// required tensors present for every block, shapes as the config implies,
// no two tensors claiming the same canonical slot.
func (m *Mapper) Report(tensors []formats.TensorInfo) *Report {
	r := &Report{Arch: m.arch.Name, GGUFArch: m.arch.GGUFArch,
		Mapped: []Mapping{}, Skipped: []string{}, Unmapped: []Unmapped{}, Missing: []Missing{},
		ShapeMismatches: []ShapeMismatch{}, Collisions: []Collision{}, vars: m.vars}
	type slot struct {
		canon  string
		expert int
	}
	claims := map[slot][]string{}
	produced := map[string]map[int]bool{} // canonical → experts seen (-1: whole tensor)
	maxBid := map[string]int{}            // blocks variable → highest block seen
	stackedCount := map[string]string{}   // canonical → count variable of its stacked rule
	var leaves []*leaf
	for _, t := range tensors {
		mp, l, ok := m.resolve(t.Name)
		if ok && l != nil && l.tied && m.cfg != nil && m.cfg.Effective().Tied() {
			// The config ties the output to the embedding: this is a copy.
			r.Skipped = append(r.Skipped, t.Name)
			continue
		}
		if !ok {
			if m.Skipped(t.Name) {
				r.Skipped = append(r.Skipped, t.Name)
				continue
			}
			r.Unmapped = append(r.Unmapped, Unmapped{Name: t.Name, Shape: t.Shape})
			continue
		}
		if l != nil && mp.Block >= 0 {
			if n := m.vars[l.blocks]; n > 0 && int64(mp.Block) >= n {
				r.Unmapped = append(r.Unmapped, Unmapped{Name: t.Name, Shape: t.Shape,
					Reason: fmt.Sprintf("block %d is beyond the config's %d blocks", mp.Block, n)})
				continue
			}
			if b, seen := maxBid[l.blocks]; !seen || mp.Block > b {
				maxBid[l.blocks] = mp.Block
			}
		}
		if l != nil && mp.Expert != nil {
			if n := m.vars[l.count]; n > 0 && int64(*mp.Expert) >= n {
				r.Unmapped = append(r.Unmapped, Unmapped{Name: t.Name, Shape: t.Shape,
					Reason: fmt.Sprintf("index %d is beyond the config's %s = %d", *mp.Expert, l.count, n)})
				continue
			}
		}
		mp.Shape = t.Shape
		r.Mapped = append(r.Mapped, mp)
		leaves = append(leaves, l)
		if mp.Shape != nil && mp.Expected != nil && !shapeMatches(mp.Shape, mp.Expected) {
			r.ShapeMismatches = append(r.ShapeMismatches, ShapeMismatch{HF: t.Name, Canonical: mp.Canonical, Shape: t.Shape, Expected: mp.Expected})
		}
		parts := mp.Parts
		if parts == nil {
			parts = []string{mp.Canonical}
		}
		x := -1
		if mp.Expert != nil {
			x = *mp.Expert
		}
		for _, p := range parts {
			claims[slot{p, x}] = append(claims[slot{p, x}], t.Name)
			if produced[p] == nil {
				produced[p] = map[int]bool{}
			}
			produced[p][x] = true
			if x >= 0 && l != nil {
				stackedCount[p] = l.count
			}
		}
	}
	// Collisions, in a stable order.
	slots := make([]slot, 0, len(claims))
	for s, names := range claims {
		if len(names) > 1 {
			slots = append(slots, s)
		}
	}
	sort.Slice(slots, func(i, j int) bool {
		if slots[i].canon != slots[j].canon {
			return slots[i].canon < slots[j].canon
		}
		return slots[i].expert < slots[j].expert
	})
	for _, s := range slots {
		c := Collision{Canonical: s.canon, HF: claims[s]}
		if s.expert >= 0 {
			x := s.expert
			c.Expert = &x
		}
		r.Collisions = append(r.Collisions, c)
	}
	// A canonical tensor both stacked from experts and given whole is a
	// collision too.
	for _, p := range sortedKeys(produced) {
		if produced[p][-1] && len(produced[p]) > 1 {
			var names []string
			for s, n := range claims {
				if s.canon == p {
					names = append(names, n...)
				}
			}
			sort.Strings(names)
			r.Collisions = append(r.Collisions, Collision{Canonical: p, HF: names})
		}
	}
	// Block counts.
	blocks := func(v string) int {
		if n := m.vars[v]; n > 0 {
			return int(n)
		}
		if b, ok := maxBid[v]; ok {
			return b + 1
		}
		return 0
	}
	r.Blocks = blocks("n_layer")
	// Missing required tensors.
	seenMissing := map[string]bool{}
	for _, l := range m.ca.leaves {
		if !l.required {
			continue
		}
		for _, c := range l.canonFull {
			n := 1
			if c.hasSlot("bid") {
				n = blocks(l.blocks)
			}
			for b := 0; b < n; b++ {
				bid := -1
				if c.hasSlot("bid") {
					bid = b
				}
				name := c.expand(bid, -1)
				if len(produced[name]) > 0 || seenMissing[name] {
					continue
				}
				seenMissing[name] = true
				r.Missing = append(r.Missing, Missing{Canonical: name, HF: m.primaryHF(name)})
			}
		}
	}
	// Missing experts of stacked tensors.
	for _, p := range sortedKeys(produced) {
		cv, ok := stackedCount[p]
		if !ok {
			continue
		}
		n := int(m.vars[cv])
		if n <= 0 || n > maxIndex {
			continue
		}
		for x := 0; x < n; x++ {
			if !produced[p][x] {
				xx := x
				r.Missing = append(r.Missing, Missing{Canonical: p, Expert: &xx})
			}
		}
	}
	sort.SliceStable(r.Missing, func(i, j int) bool { return r.Missing[i].Canonical < r.Missing[j].Canonical })
	r.Summary = Summary{Tensors: len(tensors), Mapped: len(r.Mapped), Skipped: len(r.Skipped),
		Unmapped: len(r.Unmapped), Missing: len(r.Missing), ShapeMismatches: len(r.ShapeMismatches),
		Collisions: len(r.Collisions)}
	r.Summary.OK = r.Summary.Unmapped == 0 && r.Summary.Missing == 0 && r.Summary.ShapeMismatches == 0 && r.Summary.Collisions == 0
	return r
}

func (m *Mapper) primaryHF(canonical string) string {
	names, ok := m.ToHF(canonical)
	if !ok || len(names) == 0 {
		return ""
	}
	return names[0]
}

// HFNames returns the HF names the mapped checkpoint used for a canonical
// tensor: one name, the experts in order, or the fused tensor a part comes
// from. This is the exact reverse of the mapping the report holds.
func (r *Report) HFNames(canonical string) []string {
	type e struct {
		x    int
		name string
	}
	var got []e
	for _, mp := range r.Mapped {
		hit := mp.Canonical == canonical
		for _, p := range mp.Parts {
			hit = hit || p == canonical
		}
		if !hit {
			continue
		}
		x := -1
		if mp.Expert != nil {
			x = *mp.Expert
		}
		got = append(got, e{x, mp.HF})
	}
	sort.SliceStable(got, func(i, j int) bool { return got[i].x < got[j].x })
	out := make([]string, len(got))
	for i, g := range got {
		out[i] = g.name
	}
	return out
}

// Canonicals lists the distinct canonical tensors of the report in order of
// first appearance: the tensors a GGUF export writes.
func (r *Report) Canonicals() []string {
	seen := map[string]bool{}
	var out []string
	for _, mp := range r.Mapped {
		parts := mp.Parts
		if parts == nil {
			parts = []string{mp.Canonical}
		}
		for _, p := range parts {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
