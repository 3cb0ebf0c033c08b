package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape expressions: each dimension is an arithmetic expression over config
// variables and integers with + - * / and parentheses ("n_head*head_dim",
// "(n_head + 2*n_head_kv) * head_dim"). A dimension that uses a variable the
// config does not set evaluates to -1, "unchecked".

// ShapeVars returns the variables shape expressions may use, computed from
// the config (0 for unknown values).
func ShapeVars(c *ModelConfig) map[string]int64 {
	v := map[string]int64{}
	if c == nil {
		return v
	}
	e := c.Effective()
	v["n_embd"] = int64(e.HiddenSize)
	v["n_layer"] = int64(e.NumLayers)
	v["n_head"] = int64(e.NumHeads)
	v["n_head_kv"] = int64(e.KVHeads())
	v["head_dim"] = int64(e.HeadSize())
	v["n_ff"] = int64(e.IntermediateSize)
	v["n_vocab"] = int64(e.VocabSize)
	v["n_ctx"] = int64(e.MaxPositions)
	v["n_expert"] = int64(e.NumExperts)
	v["n_ff_exp"] = int64(e.MoEIntermediateSize)
	v["n_ff_shexp"] = int64(e.SharedExpertIntermediateSize)
	if e.SharedExpertIntermediateSize == 0 && e.NumSharedExperts > 0 {
		v["n_ff_shexp"] = int64(e.MoEIntermediateSize * e.NumSharedExperts)
	}
	v["q_lora_rank"] = int64(e.QLoraRank)
	v["kv_lora_rank"] = int64(e.KVLoraRank)
	v["qk_nope_head_dim"] = int64(e.QKNopeHeadDim)
	v["qk_rope_head_dim"] = int64(e.QKRopeHeadDim)
	v["v_head_dim"] = int64(e.VHeadDim)
	v["n_type_vocab"] = int64(e.TypeVocabSize)
	v["n_rel_buckets"] = int64(e.RelAttnBuckets)
	v["n_layer_dec"] = int64(e.NumDecoderLayers)
	if e.NumDecoderLayers == 0 {
		v["n_layer_dec"] = int64(e.NumLayers)
	}
	v["rot_dim"] = int64(e.RotaryDim)
	return v
}

// shapeExpr is a parsed shape: one expression per dimension.
type shapeExpr []expr

type expr interface {
	eval(vars map[string]int64) (int64, bool)
	vars(out map[string]bool)
}

type numExpr int64
type varExpr string
type binExpr struct {
	op   byte
	l, r expr
}

func (n numExpr) eval(map[string]int64) (int64, bool) { return int64(n), true }
func (n numExpr) vars(map[string]bool)                {}
func (v varExpr) eval(vars map[string]int64) (int64, bool) {
	x, ok := vars[string(v)]
	return x, ok && x > 0
}
func (v varExpr) vars(out map[string]bool) { out[string(v)] = true }
func (b binExpr) vars(out map[string]bool) { b.l.vars(out); b.r.vars(out) }
func (b binExpr) eval(vars map[string]int64) (int64, bool) {
	l, ok1 := b.l.eval(vars)
	r, ok2 := b.r.eval(vars)
	if !ok1 || !ok2 {
		return 0, false
	}
	const lim = 1 << 53
	switch b.op {
	case '+':
		if l+r > lim {
			return 0, false
		}
		return l + r, true
	case '-':
		return l - r, true
	case '*':
		if l != 0 && (r > lim/abs64(l) || r < -lim/abs64(l)) {
			return 0, false
		}
		return l * r, true
	case '/':
		if r == 0 || l%r != 0 {
			return 0, false
		}
		return l / r, true
	}
	return 0, false
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// knownVars are the variables ShapeVars defines.
var knownVars = func() map[string]bool {
	m := map[string]bool{}
	for k := range ShapeVars(&ModelConfig{}) {
		m[k] = true
	}
	return m
}()

func parseShape(s string) (shapeExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out shapeExpr
	for _, d := range strings.Split(s, ",") {
		p := &exprParser{s: d}
		e, err := p.parseSum()
		if err != nil {
			return nil, fmt.Errorf("shape %q: %v", s, err)
		}
		p.skip()
		if p.i != len(p.s) {
			return nil, fmt.Errorf("shape %q: unexpected %q", s, p.s[p.i:])
		}
		vs := map[string]bool{}
		e.vars(vs)
		for v := range vs {
			if !knownVars[v] {
				return nil, fmt.Errorf("shape %q: unknown variable %q", s, v)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// eval returns the expected dims; -1 marks a dimension that cannot be checked.
func (s shapeExpr) eval(vars map[string]int64) []int64 {
	if s == nil {
		return nil
	}
	out := make([]int64, len(s))
	for i, e := range s {
		v, ok := e.eval(vars)
		if !ok || v <= 0 {
			v = -1
		}
		out[i] = v
	}
	return out
}

type exprParser struct {
	s     string
	i     int
	depth int
}

func (p *exprParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *exprParser) parseSum() (expr, error) {
	l, err := p.parseProduct()
	if err != nil {
		return nil, err
	}
	for {
		p.skip()
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			op := p.s[p.i]
			p.i++
			r, err := p.parseProduct()
			if err != nil {
				return nil, err
			}
			l = binExpr{op, l, r}
			continue
		}
		return l, nil
	}
}

func (p *exprParser) parseProduct() (expr, error) {
	l, err := p.parseAtom()
	if err != nil {
		return nil, err
	}
	for {
		p.skip()
		if p.i < len(p.s) && (p.s[p.i] == '*' || p.s[p.i] == '/') {
			op := p.s[p.i]
			p.i++
			r, err := p.parseAtom()
			if err != nil {
				return nil, err
			}
			l = binExpr{op, l, r}
			continue
		}
		return l, nil
	}
}

func (p *exprParser) parseAtom() (expr, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("expression ends early")
	}
	c := p.s[p.i]
	switch {
	case c == '(':
		if p.depth > 16 {
			return nil, fmt.Errorf("parentheses nested too deep")
		}
		p.i++
		p.depth++
		e, err := p.parseSum()
		p.depth--
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return e, nil
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil || n > 1<<40 {
			return nil, fmt.Errorf("number %q too large", p.s[p.i:j])
		}
		p.i = j
		return numExpr(n), nil
	case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		j := p.i
		for j < len(p.s) && (p.s[j] == '_' || (p.s[j] >= 'a' && p.s[j] <= 'z') || (p.s[j] >= 'A' && p.s[j] <= 'Z') || (p.s[j] >= '0' && p.s[j] <= '9')) {
			j++
		}
		v := p.s[p.i:j]
		p.i = j
		return varExpr(v), nil
	}
	return nil, fmt.Errorf("unexpected %q", c)
}

// shapeMatches compares a tensor shape with an expected one (-1 dims match
// anything). A nil expectation matches everything.
func shapeMatches(got, want []int64) bool {
	if want == nil {
		return true
	}
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}
