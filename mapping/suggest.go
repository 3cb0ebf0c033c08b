package mapping

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"mlmf/formats"
)

// Suggestion is a canonical name proposed for an unmapped tensor.
type Suggestion struct {
	Canonical string  `json:"canonical"`
	Score     float64 `json:"score"`
	// Reason says in words what the score rests on.
	Reason string `json:"reason"`
	// Rule is the suggestion generalised over blocks: accepting it means
	// adding Rule to the user's mapping file.
	Rule UserRule `json:"rule"`
}

// NameSuggestions are the ranked suggestions for one unmapped tensor.
type NameSuggestions struct {
	Name        string       `json:"name"`
	Shape       []int64      `json:"shape,omitempty"`
	Suggestions []Suggestion `json:"suggestions"`
}

// Suggest ranks canonical names for every tensor the mapper cannot map,
// best first, at most k each (k <= 0: all). The score combines name-token
// similarity (through a synonym table: q/query/q_proj/linear_q/q_lin …), the
// block index (block tensors only get block targets), shape compatibility
// with the config, and what is still unclaimed. Tensors that share a name
// pattern across blocks are decided together, and targets are assigned one
// to one, so the top suggestions of a block never collide.
func (m *Mapper) Suggest(tensors []formats.TensorInfo, k int) []NameSuggestions {
	// Unmapped tensors, grouped by pattern (block index → {bid}).
	type group struct {
		pattern string
		suffix  string
		block   bool
		shape   []int64
		bag     bag
		members []int // indices into tensors
		bids    map[int]bool
	}
	var groups []*group
	byPattern := map[string]*group{}
	claimed := map[string]bool{} // canonical names produced by mapped tensors
	var order []int
	for i, t := range tensors {
		if mp, ok := m.ToCanonical(t.Name); ok {
			claimed[mp.Canonical] = true
			for _, p := range mp.Parts {
				claimed[p] = true
			}
			continue
		}
		if m.Skipped(t.Name) {
			continue
		}
		order = append(order, i)
		pat, bid := blockPattern(t.Name)
		g := byPattern[pat]
		if g == nil {
			g = &group{pattern: pat, block: bid >= 0, shape: t.Shape, bids: map[int]bool{}}
			g.suffix = suffixOf(t.Name)
			g.bag = nameBag(localPart(pat))
			byPattern[pat] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, i)
		if bid >= 0 {
			g.bids[bid] = true
		}
	}
	targets := m.suggestTargets()

	type pair struct {
		g     int
		t     int
		score float64
		why   string
	}
	scores := make([][]pair, len(groups))
	var all []pair
	for gi, g := range groups {
		for ti, tg := range targets {
			if tg.block != g.block || tg.suffix != g.suffix {
				continue
			}
			nameScore, nameWhy := tg.similarity(g.bag)
			// A norm is a norm: names and targets must agree on it.
			if _, n := g.bag["norm"]; n != tg.norm {
				nameScore *= 0.4
			}
			score := nameScore
			why := nameWhy
			if tg.shape != nil && g.shape != nil {
				want := tg.shape.eval(m.vars)
				switch {
				case shapeMatches(g.shape, want) && !allUnknown(want):
					score += 0.5
					why += ", shape fits the config"
				case len(g.shape) == len(want) && len(want) == 2 && shapeMatches([]int64{g.shape[1], g.shape[0]}, want) && !allUnknown(want):
					score += 0.2
					why += ", shape fits transposed"
				case len(g.shape) != len(want):
					score -= 0.6
					why += ", rank differs"
				case !allUnknown(want):
					score -= 0.4
					why += fmt.Sprintf(", shape %v, config implies %v", g.shape, want)
				}
			}
			if tg.claimedBy(claimed, g.bids, g.block) {
				score -= 0.6
				why += ", already provided by another tensor"
			}
			p := pair{gi, ti, score, why}
			scores[gi] = append(scores[gi], p)
			all = append(all, p)
		}
	}
	// One-to-one assignment, best pairs first.
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	assigned := map[int]int{}
	taken := map[int]bool{}
	for _, p := range all {
		if _, done := assigned[p.g]; done || taken[p.t] || p.score <= 0 {
			continue
		}
		assigned[p.g] = p.t
		taken[p.t] = true
	}
	var out []NameSuggestions
	ranked := make([][]Suggestion, len(groups))
	for gi, g := range groups {
		ps := scores[gi]
		sort.SliceStable(ps, func(i, j int) bool {
			ai, aj := assigned[gi] == ps[i].t, assigned[gi] == ps[j].t
			if _, has := assigned[gi]; has && ai != aj {
				return ai
			}
			return ps[i].score > ps[j].score
		})
		for _, p := range ps {
			if k > 0 && len(ranked[gi]) >= k {
				break
			}
			tg := targets[p.t]
			ranked[gi] = append(ranked[gi], Suggestion{
				Canonical: tg.name, Score: math.Round(p.score*1000) / 1000, Reason: strings.TrimPrefix(p.why, ", "),
				Rule: UserRule{HF: g.pattern, Canonical: tg.name, Transform: tg.transform.Op, TransformArg: tg.transform.Arg},
			})
		}
	}
	groupOf := map[int]int{}
	for gi, g := range groups {
		for _, i := range g.members {
			groupOf[i] = gi
		}
	}
	for _, i := range order {
		t := tensors[i]
		gi := groupOf[i]
		_, bid := blockPattern(t.Name)
		ns := NameSuggestions{Name: t.Name, Shape: t.Shape, Suggestions: []Suggestion{}}
		for _, s := range ranked[gi] {
			s.Canonical = strings.ReplaceAll(s.Canonical, "{bid}", strconv.Itoa(bid))
			ns.Suggestions = append(ns.Suggestions, s)
		}
		out = append(out, ns)
	}
	return out
}

func allUnknown(s []int64) bool {
	for _, d := range s {
		if d >= 0 {
			return false
		}
	}
	return true
}

// blockPattern replaces the block index of a name with {bid}: the first
// all-digit segment, or failing that a block word with the index glued on
// ("h_3", "layer12", "block_0").
func blockPattern(name string) (string, int) {
	segs := strings.Split(name, ".")
	for i, s := range segs {
		if isDigits(s) && len(s) < 7 {
			n, _ := strconv.Atoi(s)
			segs[i] = "{bid}"
			return strings.Join(segs, "."), n
		}
	}
	for i, s := range segs {
		word, num := splitOrdinal(s)
		if num == "" || len(num) > 6 || (len(num) > 1 && num[0] == '0') {
			continue
		}
		if blockWords[strings.ToLower(strings.TrimRight(word, "_-"))] {
			n, _ := strconv.Atoi(num)
			segs[i] = word + "{bid}"
			return strings.Join(segs, "."), n
		}
	}
	return name, -1
}

// blockWords are the words that carry a glued-on block index.
var blockWords = map[string]bool{"h": true, "l": true, "layer": true, "layers": true, "block": true, "blocks": true,
	"blk": true, "decoder_layer": true, "encoder_layer": true, "transformer_block": true}

// suffixOf returns a name's canonical suffix: weight or bias, reading the
// spellings other frameworks use (Flax kernel/scale, TF gamma/beta).
func suffixOf(name string) string {
	s := lastSegment(name)
	switch strings.ToLower(s) {
	case "kernel", "w", "gamma", "scale", "g":
		return "weight"
	case "b", "beta":
		return "bias"
	}
	return s
}

// localPart drops the block prefix (everything up to {bid}) and the suffix.
func localPart(pattern string) string {
	if i := strings.Index(pattern, "{bid}."); i >= 0 {
		pattern = pattern[i+len("{bid}."):]
	}
	if j := strings.LastIndexByte(pattern, '.'); j >= 0 {
		pattern = pattern[:j]
	}
	return pattern
}

func lastSegment(name string) string {
	if j := strings.LastIndexByte(name, '.'); j >= 0 {
		return name[j+1:]
	}
	return ""
}

// suggestTarget is a canonical tensor a name may be given.
type suggestTarget struct {
	name      string // canonical template with suffix
	suffix    string
	block     bool
	shape     shapeExpr
	transform Transform
	norm      bool  // a normalisation weight or bias
	bags      []bag // the canonical name's bag, then each HF variant's
}

func (t suggestTarget) claimedBy(claimed map[string]bool, bids map[int]bool, block bool) bool {
	if !block {
		return claimed[t.name]
	}
	if len(bids) == 0 {
		return false
	}
	for b := range bids {
		if !claimed[strings.ReplaceAll(t.name, "{bid}", strconv.Itoa(b))] {
			return false
		}
	}
	return true
}

// similarity is the best weighted overlap between the name's bag and one of
// the target's bags: mostly how much of the name is explained, partly how
// much of the target is covered.
func (t suggestTarget) similarity(b bag) (float64, string) {
	best, why := 0.0, "no shared name tokens"
	for i, tb := range t.bags {
		var inter, wb, wt float64
		var shared []string
		for c, w := range b {
			wb += w
			if _, ok := tb[c]; ok {
				inter += w
				shared = append(shared, c)
			}
		}
		for _, w := range tb {
			wt += w
		}
		if wb == 0 || wt == 0 {
			continue
		}
		s := 0.7*inter/wb + 0.3*inter/wt
		if s > best {
			best = s
			sort.Strings(shared)
			src := "canonical name"
			if i > 0 {
				src = "known HF name"
			}
			why = fmt.Sprintf("name shares %s with the %s", strings.Join(shared, ", "), src)
		}
	}
	return best, why
}

func (m *Mapper) suggestTargets() []suggestTarget {
	seen := map[string]int{}
	var out []suggestTarget
	for _, l := range m.ca.leaves {
		if len(l.canonFull) != 1 || l.stacked {
			// Split parts and stacked experts come from fused or per-expert
			// tensors; a renamed one is better taught with a rule.
			continue
		}
		name := l.canonFull[0].src
		i, ok := seen[name]
		if !ok {
			i = len(out)
			seen[name] = i
			cb := nameBag(canonicalLocal(l.canon[0].src))
			for c, w := range canonicalHints[canonicalLocal(l.canon[0].src)] {
				cb[c] = w
			}
			out = append(out, suggestTarget{name: name, suffix: l.suffix, block: l.canon[0].hasSlot("bid"),
				shape: l.shape, transform: l.transform, bags: []bag{cb},
				norm: strings.Contains(canonicalLocal(l.canon[0].src), "norm")})
		}
		hp := l.hf.src
		if l.hf.hasSlot("bid") {
			hp = localPart(hp)
		} else if j := strings.LastIndexByte(hp, '.'); j >= 0 {
			hp = hp[:j]
		}
		out[i].bags = append(out[i].bags, nameBag(hp))
	}
	return out
}

// canonicalLocal is the role part of a canonical template ("attn_q").
func canonicalLocal(c string) string {
	c = strings.TrimPrefix(c, "enc.")
	c = strings.TrimPrefix(c, "dec.")
	return strings.TrimPrefix(c, "blk.{bid}.")
}

// canonicalHints add the concepts a canonical name implies without saying
// them: attn_norm is the first norm of a block, ffn_up the first MLP
// projection, output_norm the final norm.
var canonicalHints = map[string]bag{
	"attn_norm":   {"ord1": 1.5, "pre": 1},
	"ffn_norm":    {"ord2": 1.5},
	"ffn_up":      {"ord1": 1.5, "in": 1},
	"ffn_down":    {"ord2": 1.5, "out": 1},
	"output_norm": {"final": 3},
	"output":      {"head": 3},
	"token_embd":  {"tok": 1, "in": 1},
	"attn_output": {"out": 1},
}

// A bag maps concepts to weights.
type bag map[string]float64

// Concept weights: roles decide, contexts and ordinals help, generic words
// barely count.
const (
	wRole    = 3
	wContext = 1
	wOrdinal = 1.5
	wGeneric = 0.3
	wRaw     = 1
)

// synonyms maps name tokens to concepts. Whole segments are looked up first
// ("q_lin", "dense_h_to_4h"), then their parts.
var synonyms = map[string][]string{
	// attention roles
	"q": {"q"}, "query": {"q"}, "queries": {"q"}, "wq": {"q"}, "q_proj": {"q"}, "q_lin": {"q"}, "to_q": {"q"}, "linear_q": {"q"},
	"k": {"k"}, "key": {"k"}, "keys": {"k"}, "wk": {"k"}, "k_proj": {"k"}, "k_lin": {"k"}, "to_k": {"k"}, "linear_k": {"k"},
	"v": {"v"}, "value": {"v"}, "values": {"v"}, "wv": {"v"}, "v_proj": {"v"}, "v_lin": {"v"}, "to_v": {"v"}, "linear_v": {"v"},
	"o": {"o"}, "wo": {"o"}, "o_proj": {"o"}, "out_proj": {"o"}, "out_lin": {"o"}, "to_out": {"o"}, "linear_proj": {"o"},
	"c_proj": {"o"}, "dense": {"lin"}, "output": {"out"}, "out": {"out"},
	"qkv": {"qkv"}, "query_key_value": {"qkv"}, "c_attn": {"qkv", "attn"}, "wqkv": {"qkv"}, "linear_qkv": {"qkv"}, "in_proj": {"qkv"},
	"qkv_proj": {"qkv"},
	// contexts
	"attn": {"attn"}, "attention": {"attn"}, "self_attn": {"attn"}, "self_attention": {"attn"}, "selfattention": {"attn"},
	"sa": {"attn"}, "mha": {"attn"}, "att": {"attn"}, "self": {"attn"},
	"mlp": {"mlp"}, "ffn": {"mlp"}, "feed_forward": {"mlp"}, "feedforward": {"mlp"}, "ff": {"mlp"}, "ffw": {"mlp"},
	"fwd": {"mlp"}, "ffwd": {"mlp"}, "dense_relu_dense": {"mlp"}, "intermediate": {"mlp", "up"},
	// MLP roles
	"gate": {"gate"}, "gate_proj": {"gate"}, "w_gate": {"gate"}, "wg": {"gate"}, "gated": {"gate"},
	"up": {"up"}, "up_proj": {"up"}, "w_up": {"up"}, "ffn_in": {"up"}, "fc_in": {"up"}, "c_fc": {"up"}, "dense_h_to_4h": {"up"},
	"h_to_4h": {"up"}, "wi": {"up"}, "in": {"in"}, "expand": {"up"},
	"down": {"down"}, "down_proj": {"down"}, "w_down": {"down"}, "ffn_out": {"down"}, "fc_out": {"down"}, "dense_4h_to_h": {"down"},
	"4h_to_h": {"down"}, "contract": {"down"},
	"fc": {"lin"}, "lin": {"lin"}, "linear": {"lin"}, "proj": {"lin"}, "projection": {"lin"}, "w": {"lin"}, "layer": {"lin"},
	// norms
	"norm": {"norm"}, "ln": {"norm"}, "layernorm": {"norm"}, "layer_norm": {"norm"}, "rmsnorm": {"norm"}, "rms_norm": {"norm"},
	"lnorm": {"norm"}, "rms": {"norm"}, "scale": {"norm"},
	"input": {"pre"}, "pre": {"pre"}, "before": {"pre"}, "post": {"post"}, "after": {"post"}, "final": {"final"}, "f": {"final"},
	// embeddings and head
	"embed": {"embd"}, "embedding": {"embd"}, "embeddings": {"embd"}, "embd": {"embd"}, "emb": {"embd"}, "wte": {"embd", "tok"},
	"tok": {"tok"}, "token": {"tok"}, "tokens": {"tok"}, "word": {"tok"}, "vocab": {"tok"},
	"wpe": {"embd", "pos"}, "pos": {"pos"}, "position": {"pos"}, "positional": {"pos"}, "positions": {"pos"},
	"lm_head": {"head"}, "head": {"head"}, "logits": {"head"}, "unembed": {"head"}, "classifier": {"head"},
	"projector": {"head"}, "lm": {"head"}, "embed_out": {"head"}, "embed_in": {"embd", "tok"},
	// T5 names its gated MLP wi_0 (gate) and wi_1 (up).
	"wi_0": {"gate"}, "wi_1": {"up"},
}

var conceptWeight = map[string]float64{
	"q": wRole, "k": wRole, "v": wRole, "o": wRole, "qkv": wRole, "gate": wRole, "up": wRole, "down": wRole,
	"norm": wRole, "embd": wRole, "pos": wRole, "head": wRole, "final": wRole,
	"attn": wContext, "mlp": wContext, "tok": wContext, "pre": wContext, "post": wContext, "in": wContext, "out": wContext,
	"ord1": wOrdinal, "ord2": wOrdinal, "ord3": wOrdinal,
	"lin": wGeneric,
}

// nameBag turns a (local) name into weighted concepts.
func nameBag(name string) bag {
	b := bag{}
	add := func(c string) {
		w, ok := conceptWeight[c]
		if !ok {
			w = wRaw
		}
		b[c] = w
	}
	for _, seg := range strings.Split(name, ".") {
		if seg == "" || seg == "{bid}" || seg == "{xid}" {
			continue
		}
		low := strings.ToLower(seg)
		if cs, ok := synonyms[low]; ok {
			for _, c := range cs {
				add(c)
			}
			continue
		}
		for _, part := range splitWords(seg) {
			word, ord := splitOrdinal(part)
			if cs, ok := synonyms[part]; ok && ord == "" {
				for _, c := range cs {
					add(c)
				}
				continue
			}
			if word != "" {
				if cs, ok := synonyms[word]; ok {
					for _, c := range cs {
						add(c)
					}
				} else if !isDigits(word) {
					add("raw:" + word)
				}
			}
			if ord != "" && len(ord) == 1 {
				switch ord {
				case "0", "1":
					// wi_0 / fc_0 style counts from zero, fc1 / lin1 from one.
					add("ord1")
				case "2":
					add("ord2")
				case "3":
					add("ord3")
				}
			}
		}
	}
	// A norm in an attention or MLP context is that block half's norm.
	if _, n := b["norm"]; n {
		if _, a := b["attn"]; a {
			if _, p := b["post"]; !p {
				b["ord1"] = wOrdinal
			}
		}
		if _, f := b["mlp"]; f {
			b["ord2"] = wOrdinal
		}
	}
	return b
}

// splitWords splits a segment on '_' and '-' and at lower→upper case changes.
func splitWords(seg string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(seg)
	for i, r := range rs {
		if r == '_' || r == '-' {
			flush()
			continue
		}
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// splitOrdinal splits a trailing number off a word: "fc1" → "fc", "1".
func splitOrdinal(w string) (string, string) {
	i := len(w)
	for i > 0 && w[i-1] >= '0' && w[i-1] <= '9' {
		i--
	}
	return w[:i], w[i:]
}
