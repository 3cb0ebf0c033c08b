package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// CanonicalNames lists the canonical tensor names the architecture knows,
// as templates with their suffix ("blk.{bid}.attn_q.weight",
// "output_norm.weight"), in rule order without duplicates: the targets a
// person may give an unmapped tensor.
func (a *Arch) CanonicalNames() []string {
	ca, err := a.compile()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range ca.leaves {
		for _, c := range l.canonFull {
			if !seen[c.src] {
				seen[c.src] = true
				out = append(out, c.src)
			}
		}
	}
	return out
}

// RuleFor makes the user rule that maps the tensor name to canonical,
// generalised over blocks: for "model.layers.3.mlp.proj_out.weight" and
// "blk.3.ffn_down.weight" (or "blk.{bid}.ffn_down.weight") it returns
// model.layers.{bid}.mlp.proj_out.weight → blk.{bid}.ffn_down.weight, which
// maps that tensor of every block. A name outside the blocks gives a rule
// for that one name. The rule carries the transform the architecture applies
// to that canonical tensor (LLaMA's Q/K permutation, say), and is validated
// as a mapping file's would be.
func (a *Arch) RuleFor(name, canonical string) (UserRule, error) {
	canonical = strings.TrimSpace(canonical)
	pat, bid := blockPattern(name)
	u := UserRule{HF: name, Canonical: canonical}
	if bid >= 0 {
		if !strings.Contains(canonical, "{bid}") {
			canonical = withBlockSlot(canonical, bid)
		}
		if strings.Contains(canonical, "{bid}") {
			u = UserRule{HF: pat, Canonical: canonical}
		}
	}
	if ca, err := a.compile(); err == nil {
		for _, l := range ca.leaves {
			if len(l.canonFull) == 1 && !l.stacked && l.canonFull[0].src == u.Canonical {
				u.Transform, u.TransformArg = l.transform.Op, l.transform.Arg
				break
			}
		}
	}
	if msg := u.check(); msg != "" {
		return u, fmt.Errorf("mapping: rule %s → %s: %s: %w", u.HF, u.Canonical, msg, ErrBadRules)
	}
	return u, nil
}

// withBlockSlot replaces the segment of a canonical name that holds block
// bid with {bid}; a name without it comes back unchanged.
func withBlockSlot(canonical string, bid int) string {
	segs := strings.Split(canonical, ".")
	b := strconv.Itoa(bid)
	for i, s := range segs {
		if s == b {
			segs[i] = "{bid}"
			return strings.Join(segs, ".")
		}
	}
	return canonical
}
