package mapping

import (
	"fmt"
	"strings"
)

// leaf is one concrete (HF template, canonical template) pair with its
// suffix: a TensorRule expands to a weight leaf, maybe a bias leaf, once per
// HF variant.
type leaf struct {
	hf        template
	canon     []template // one, or the parts of a split
	canonFull []template // canon with the suffix
	suffix    string     // canonical suffix ("weight", "bias")
	bias      bool
	required  bool
	shape     shapeExpr
	transform Transform
	dtype     DTypeHint
	blocks    string // config variable for the {bid} count
	count     string // config variable for the {xid} count
	stacked   bool   // HF has {xid}, canonical does not
	tied      bool   // duplicate of the embedding when the config ties them
	variant   int    // index in the rule's HF list
	rule      int    // index of the rule
	source    string // "llama" or "rules.yaml:12"
}

type compiledArch struct {
	leaves   []*leaf
	byHF     map[string][]*leaf // HF skeleton → leaves, in rule order
	hfLinear []*leaf            // HF templates with embedded placeholders
	byCanon  map[string][]*leaf // canonical skeleton → leaves
	skip     []template
}

func (a *Arch) compile() (*compiledArch, error) {
	a.once.Do(func() {
		a.compiled, a.err = compileRules(a.Tensors, a.Skip, a.Name)
	})
	return a.compiled, a.err
}

// Validate compiles the architecture's rules and reports the first problem
// (bad template, bad shape expression, rule without names).
func (a *Arch) Validate() error {
	_, err := a.compile()
	return err
}

func compileRules(rules []TensorRule, skip []string, source string) (*compiledArch, error) {
	ca := &compiledArch{byHF: map[string][]*leaf{}, byCanon: map[string][]*leaf{}}
	for i, r := range rules {
		ls, err := compileRule(r, i, source)
		if err != nil {
			return nil, fmt.Errorf("mapping: %s: rule %d (%s): %w", source, i, r.name(), err)
		}
		for _, l := range ls {
			ca.add(l)
		}
	}
	for _, s := range skip {
		t, err := compileTemplate(s)
		if err != nil {
			return nil, fmt.Errorf("mapping: %s: skip: %w", source, err)
		}
		ca.skip = append(ca.skip, t)
	}
	return ca, nil
}

func (ca *compiledArch) add(l *leaf) {
	ca.leaves = append(ca.leaves, l)
	if sk := l.hf.skeleton(); sk != "" {
		ca.byHF[sk] = append(ca.byHF[sk], l)
	} else {
		ca.hfLinear = append(ca.hfLinear, l)
	}
	l.canonFull = l.canonFull[:0]
	for _, c := range l.canon {
		full := mustSuffix(c, l.suffix)
		l.canonFull = append(l.canonFull, full)
		ca.byCanon[full.skeleton()] = append(ca.byCanon[full.skeleton()], l)
	}
}

func (r TensorRule) name() string {
	if r.Canonical != "" {
		return r.Canonical
	}
	if len(r.Split) > 0 {
		return strings.Join(r.Split, "+")
	}
	if len(r.HF) > 0 {
		return r.HF[0]
	}
	return "?"
}

func compileRule(r TensorRule, idx int, source string) ([]*leaf, error) {
	if len(r.HF) == 0 {
		return nil, fmt.Errorf("no HF names")
	}
	var canon []template
	switch {
	case len(r.Split) > 0:
		if r.Canonical != "" {
			return nil, fmt.Errorf("both canonical and split are set")
		}
		for _, s := range r.Split {
			t, err := compileTemplate(s)
			if err != nil {
				return nil, err
			}
			canon = append(canon, t)
		}
	case r.Canonical != "":
		t, err := compileTemplate(r.Canonical)
		if err != nil {
			return nil, err
		}
		canon = []template{t}
	default:
		return nil, fmt.Errorf("no canonical name")
	}
	shape, err := parseShape(r.Shape)
	if err != nil {
		return nil, err
	}
	var biasShape shapeExpr
	if r.BiasShape != "" {
		if biasShape, err = parseShape(r.BiasShape); err != nil {
			return nil, err
		}
	} else if len(shape) > 0 {
		if r.Transform.Op == OpTranspose {
			biasShape = shape[len(shape)-1:]
		} else {
			biasShape = shape[:1]
		}
	}
	for _, c := range canon {
		if c.hasSlot("xid") {
			return nil, fmt.Errorf("canonical %q: {xid} belongs in HF names only (experts are stacked)", c.src)
		}
	}
	var out []*leaf
	for vi, h := range r.HF {
		ht, err := compileTemplate(h)
		if err != nil {
			return nil, err
		}
		for _, c := range canon {
			if c.hasSlot("bid") != ht.hasSlot("bid") {
				return nil, fmt.Errorf("HF %q and canonical %q disagree on {bid}", h, c.src)
			}
		}
		stacked := ht.hasSlot("xid")
		base := leaf{hf: ht, canon: canon, transform: r.Transform, dtype: r.DType, blocks: r.Blocks,
			count: r.Count, stacked: stacked, variant: vi, rule: idx, source: source, shape: shape, tied: r.Tied}
		if base.blocks == "" {
			base.blocks = "n_layer"
		}
		if base.count == "" {
			base.count = "n_expert"
		}
		if stacked && base.transform.Op == "" {
			base.transform = Transform{Op: OpStackExperts}
		}
		if r.Bare {
			l := base
			l.suffix = r.BareSuffix
			if l.suffix == "" {
				l.suffix = "weight"
			}
			l.required = !r.Optional
			out = append(out, &l)
			continue
		}
		w := base
		w.hf = mustSuffix(ht, "weight")
		w.suffix = "weight"
		w.required = !r.Optional
		out = append(out, &w)
		if r.Bias != Absent {
			b := base
			b.hf = mustSuffix(ht, "bias")
			b.suffix = "bias"
			b.bias = true
			b.tied = false
			b.required = r.Bias == Required && !r.Optional
			b.shape = biasShape
			b.dtype = DTypeF32
			if b.transform.Op == OpTranspose || b.transform.Op == OpNormPlusOne {
				b.transform = Transform{}
			}
			out = append(out, &b)
		}
	}
	return out, nil
}

func mustSuffix(t template, suffix string) template {
	if suffix == "" {
		return t
	}
	n, err := compileTemplate(t.src + "." + suffix)
	if err != nil {
		// t compiled, so appending a plain literal segment cannot fail.
		panic("mapping: " + err.Error())
	}
	return n
}

// lookupHF finds the first leaf matching a concrete HF name.
func (ca *compiledArch) lookupHF(name string) (*leaf, int, int) {
	for _, l := range ca.byHF[nameSkeleton(name)] {
		if bid, xid, ok := l.hf.match(name); ok {
			return l, bid, xid
		}
	}
	for _, l := range ca.hfLinear {
		if bid, xid, ok := l.hf.match(name); ok {
			return l, bid, xid
		}
	}
	return nil, -1, -1
}

// lookupCanon finds the leaves producing a concrete canonical name, the
// rule's first HF variant first, and which split part it is.
func (ca *compiledArch) lookupCanon(name string) (ls []*leaf, bid, part int) {
	for _, l := range ca.byCanon[nameSkeleton(name)] {
		for pi, full := range l.canonFull {
			if b, _, ok := full.match(name); ok {
				ls = append(ls, l)
				bid, part = b, pi
			}
		}
	}
	return ls, bid, part
}

func (ca *compiledArch) skipped(name string) bool {
	for _, t := range ca.skip {
		if _, _, ok := t.match(name); ok {
			return true
		}
	}
	return false
}
