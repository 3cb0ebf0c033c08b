package tokenizer

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Encoder turns text into token ids with a Vocab the way llama.cpp does:
// special tokens are cut out first, then byte-level BPE (gpt2) splits with
// the pre-tokenizer and merges by rank, SentencePiece BPE (llama) merges by
// score with byte fallback, and unigram (t5) picks the best-scoring
// segmentation (Viterbi), falling back to byte tokens where it has them.
type Encoder struct {
	v            *Vocab
	ids          map[string]int32
	ranks        map[[2]string]int
	splitters    []splitter
	ignoreMerges bool
	specials     []int32 // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
	byteTok      [256]int32
	maxTokLen    int
	maxTokBytes  int // longest token text in bytes (WordPiece search window)
	unkScore     float64
	charsmap     *charsmap // unigram normalisation rules, nil when none
	// metaspace, when set, makes llama vocabularies follow the tokenizers
	// library's Metaspace pre-tokenizer instead of llama.cpp: "first" adds
	// the ▁ prefix only to text at the very start of the input, "always" to
	// every piece between special tokens, "never" to none; none is added to
	// text that already starts with a space.
	metaspace string
}

// NewEncoder prepares an Encoder. It fails for models or pre-tokenizers it
// does not implement.
func NewEncoder(v *Vocab) (*Encoder, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	e := &Encoder{v: v, ids: make(map[string]int32, len(v.Tokens))}
	for i := len(v.Tokens) - 1; i >= 0; i-- {
		e.ids[v.Tokens[i]] = int32(i) // first id wins for duplicate texts
		if n := utf8.RuneCountInString(v.Tokens[i]); n > e.maxTokLen {
			e.maxTokLen = n
		}
		e.maxTokBytes = max(e.maxTokBytes, len(v.Tokens[i]))
	}
	for i := range e.byteTok {
		e.byteTok[i] = NoToken
	}
	for i, t := range v.Types {
		switch t {
		case TokenControl, TokenUserDefined, TokenUnknown:
			if v.Tokens[i] != "" {
				e.specials = append(e.specials, int32(i))
			}
		}
	}
	sort.SliceStable(e.specials, func(a, b int) bool {
		return len(v.Tokens[e.specials[a]]) > len(v.Tokens[e.specials[b]])
	})
	switch v.Model {
	case ModelGPT2:
		sp, err := splittersFor(v.Pre, v.PreRegex)
		if err != nil {
			return nil, err
		}
		e.splitters = sp
		e.ranks = make(map[[2]string]int, len(v.Merges))
		for i, m := range v.Merges {
			a, b, ok := splitMerge(m)
			if !ok {
				return nil, fmt.Errorf("tokenizer: merge %d %q has no space: %w", i, m, ErrCorrupt)
			}
			if _, dup := e.ranks[[2]string{a, b}]; !dup {
				e.ranks[[2]string{a, b}] = i
			}
		}
		switch v.Pre {
		case "llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "tekken", "youtu", "minicpm5":
			e.ignoreMerges = true // as llama.cpp sets tokenizer_ignore_merges
		}
	case ModelLlama, ModelT5:
		for i, t := range v.Tokens {
			if v.Types[i] == TokenByte && len(t) == 6 {
				var b int
				if _, err := fmt.Sscanf(t, "<0x%02X>", &b); err == nil && b >= 0 && b < 256 {
					e.byteTok[b] = int32(i)
				}
			}
		}
		if v.Model == ModelT5 {
			min := math.Inf(1)
			for i, s := range v.Scores {
				if v.Types[i] == TokenNormal && float64(s) < min {
					min = float64(s)
				}
			}
			if math.IsInf(min, 1) {
				min = 0
			}
			e.unkScore = min - 10
			if len(v.PrecompiledCharsmap) > 0 {
				cm, err := parseCharsmap(v.PrecompiledCharsmap)
				if err != nil {
					return nil, fmt.Errorf("tokenizer: %w", err)
				}
				e.charsmap = cm
			}
		}
	case ModelBert:
		if v.UNK < 0 {
			return nil, fmt.Errorf("tokenizer: WordPiece vocabulary without an unknown token: %w", ErrSpecialToken)
		}
	default:
		return nil, fmt.Errorf("tokenizer: encoding %q vocabularies: %w", v.Model, ErrUnsupported)
	}
	return e, nil
}

// splitMerge splits "a b" at the first space after the first byte, as
// llama.cpp does.
func splitMerge(m string) (string, string, bool) {
	if len(m) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(m[1:], ' ')
	if i < 0 {
		return "", "", false
	}
	return m[:i+1], m[i+2:], true
}

type fragment struct {
	text  string
	token int32 // NoToken for text
}

// partition cuts special tokens out of the text, longest first. Without
// parseSpecial only USER_DEFINED tokens are cut, as in llama.cpp.
func (e *Encoder) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil // llama.cpp tokenizes no fragment for empty input
	}
	frags := []fragment{{text: text, token: NoToken}}
	for _, id := range e.specials {
		t := e.v.Types[id]
		if !parseSpecial && t != TokenUserDefined {
			continue
		}
		tok := e.v.Tokens[id]
		var next []fragment
		for _, f := range frags {
			if f.token != NoToken || !strings.Contains(f.text, tok) {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, tok)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, fragment{text: s[:i], token: NoToken})
				}
				next = append(next, fragment{token: id})
				s = s[i+len(tok):]
			}
			if s != "" {
				next = append(next, fragment{text: s, token: NoToken})
			}
		}
		frags = next
	}
	return frags
}

// Encode returns the ids of text without BOS/EOS. parseSpecial makes special
// (CONTROL) token texts in the input become their tokens.
func (e *Encoder) Encode(text string, parseSpecial bool) []int32 {
	var out []int32
	prevSpecial := true
	for i, f := range e.partition(text, parseSpecial) {
		if f.token != NoToken {
			out = append(out, f.token)
			prevSpecial = true
			continue
		}
		switch e.v.Model {
		case ModelGPT2:
			out = e.encodeBPE(f.text, out)
		case ModelLlama:
			s := f.text
			switch e.metaspace {
			case "":
				if prevSpecial && (e.v.AddSpacePrefix == nil || *e.v.AddSpacePrefix) {
					s = " " + s
				}
			case "always", "first":
				if (e.metaspace == "always" || i == 0) && !strings.HasPrefix(s, " ") {
					s = " " + s
				}
			}
			out = e.encodeSPM(strings.ReplaceAll(s, " ", "\u2581"), out)
		case ModelT5:
			out = e.encodeUGM(e.normalizeUGM(f.text, prevSpecial), out)
		case ModelBert:
			out = e.encodeWPM(f.text, out)
		}
		prevSpecial = false
	}
	return out
}

// ---- byte-level BPE ----

var byteToRune, runeToByte = byteLevelTables()

// byteLevelTables is GPT-2's bytes_to_unicode: printable bytes map to
// themselves, the rest to U+0100 upwards.
func byteLevelTables() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}

func byteEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

func (e *Encoder) encodeBPE(text string, out []int32) []int32 {
	pieces := [][]rune{[]rune(text)}
	for _, sp := range e.splitters {
		var next [][]rune
		for _, p := range pieces {
			next = append(next, sp(p)...)
		}
		pieces = next
	}
	for _, p := range pieces {
		word := byteEncode(string(p))
		if word == "" {
			continue
		}
		if e.ignoreMerges {
			if id, ok := e.ids[word]; ok {
				out = append(out, id)
				continue
			}
		}
		for _, sym := range e.bpeMerge(word) {
			if id, ok := e.ids[sym]; ok {
				out = append(out, id)
				continue
			}
			for _, r := range sym { // llama.cpp: per byte-level character
				if id, ok := e.ids[string(r)]; ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// bpeMerge applies the merges to a byte-level word, lowest rank first,
// leftmost first among equal ranks, with a priority queue over a linked list
// of symbols as llama.cpp does (O(n log n), so long words stay cheap).
func (e *Encoder) bpeMerge(word string) []string {
	var syms []spmSym
	for i, r := range word {
		syms = append(syms, spmSym{text: word[i : i+utf8.RuneLen(r)], prev: len(syms) - 1, next: len(syms) + 1})
	}
	if len(syms) == 0 {
		return nil
	}
	syms[len(syms)-1].next = -1
	q := &rankQueue{}
	try := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		if rank, ok := e.ranks[[2]string{syms[l].text, syms[r].text}]; ok {
			heap.Push(q, rankBigram{left: l, right: r, rank: rank, text: syms[l].text + syms[r].text})
		}
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(rankBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.text == "" || r.text == "" || l.next != b.right || l.text+r.text != b.text {
			continue // outdated
		}
		l.text += r.text
		r.text = ""
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	var out []string
	for i := 0; i >= 0; i = syms[i].next {
		out = append(out, syms[i].text)
	}
	return out
}

type rankBigram struct {
	left, right int
	rank        int
	text        string
}

type rankQueue []rankBigram

func (q rankQueue) Len() int { return len(q) }
func (q rankQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].left < q[j].left
}
func (q rankQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *rankQueue) Push(x any)   { *q = append(*q, x.(rankBigram)) }
func (q *rankQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// ---- SentencePiece BPE (llama.cpp's llm_tokenizer_spm) ----

type spmSym struct {
	text       string
	prev, next int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
	text        string
}

type bigramQueue []spmBigram

func (q bigramQueue) Len() int { return len(q) }
func (q bigramQueue) Less(i, j int) bool {
	if q[i].score != q[j].score {
		return q[i].score > q[j].score
	}
	return q[i].left < q[j].left
}
func (q bigramQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bigramQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *bigramQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (e *Encoder) encodeSPM(text string, out []int32) []int32 {
	var syms []spmSym
	for i, r := range text {
		n := utf8.RuneLen(r)
		if r == utf8.RuneError {
			n = 1
		}
		syms = append(syms, spmSym{text: text[i : i+n], prev: len(syms) - 1, next: len(syms) + 1})
	}
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	q := &bigramQueue{}
	revMerge := map[string][2]string{}
	try := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		t := syms[l].text + syms[r].text
		id, ok := e.ids[t]
		if !ok {
			return
		}
		heap.Push(q, spmBigram{left: l, right: r, score: e.v.Scores[id], size: len(t), text: t})
		revMerge[t] = [2]string{syms[l].text, syms[r].text}
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.text == "" || r.text == "" || len(l.text)+len(r.text) != b.size || l.text+r.text != b.text {
			continue // outdated
		}
		l.text += r.text
		r.text = ""
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	var reseg func(s string)
	reseg = func(s string) {
		if id, ok := e.ids[s]; ok {
			out = append(out, id)
			return
		}
		if p, ok := revMerge[s]; ok {
			reseg(p[0])
			reseg(p[1])
			return
		}
		for i := 0; i < len(s); i++ {
			if id := e.byteTok[s[i]]; id != NoToken {
				out = append(out, id)
			} else if e.v.UNK != NoToken {
				out = append(out, e.v.UNK)
			}
		}
	}
	for i := 0; i >= 0 && i < len(syms); i = syms[i].next {
		if syms[i].text != "" {
			reseg(syms[i].text)
		}
	}
	return out
}

// ---- unigram ----

// normalizeUGM applies the SentencePiece normalizer llama.cpp keeps: the
// precompiled charsmap rules, remove_extra_whitespaces, add_space_prefix and
// escaping spaces as U+2581.
func (e *Encoder) normalizeUGM(s string, first bool) string {
	if e.charsmap != nil {
		s = e.charsmap.normalize(s)
	}
	if e.v.RemoveExtraWhitespaces == nil || *e.v.RemoveExtraWhitespaces {
		s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
	}
	if (e.v.AddSpacePrefix == nil || *e.v.AddSpacePrefix) && first && s != "" {
		s = " " + s
	}
	return strings.ReplaceAll(s, " ", "\u2581")
}

func (e *Encoder) encodeUGM(text string, out []int32) []int32 {
	if text == "" {
		return out
	}
	n := len(text)
	best := make([]float64, n+1)
	from := make([]int, n+1)
	tok := make([]int32, n+1)
	for i := 1; i <= n; i++ {
		best[i] = math.Inf(-1)
	}
	for i := 0; i < n; i++ {
		if math.IsInf(best[i], -1) {
			continue
		}
		found := false
		end := i
		for k := 0; k < e.maxTokLen && end < n; k++ {
			_, sz := utf8.DecodeRuneInString(text[end:])
			end += sz
			id, ok := e.ids[text[i:end]]
			if !ok {
				continue
			}
			t := e.v.Types[id]
			if t != TokenNormal && t != TokenUserDefined && t != TokenUnused {
				continue
			}
			score := float64(e.v.Scores[id])
			if t == TokenUserDefined {
				score = 0
			}
			if k == 0 {
				found = true
			}
			if s := best[i] + score; s > best[end] {
				best[end], from[end], tok[end] = s, i, id
			}
		}
		if !found {
			_, sz := utf8.DecodeRuneInString(text[i:])
			if s := best[i] + e.unkScore; s > best[i+sz] {
				best[i+sz], from[i+sz], tok[i+sz] = s, i, NoToken
			}
		}
	}
	var rev [][2]int // (start, end) spans, back to front
	for at := n; at > 0; at = from[at] {
		rev = append(rev, [2]int{from[at], at})
	}
	for j := len(rev) - 1; j >= 0; j-- {
		s, t := rev[j][0], rev[j][1]
		if id := tok[t]; id != NoToken {
			out = append(out, id)
			continue
		}
		if e.byteTok[text[s]] != NoToken {
			for k := s; k < t; k++ {
				out = append(out, e.byteTok[text[k]])
			}
		} else if e.v.UNK != NoToken {
			out = append(out, e.v.UNK)
		}
	}
	return out
}

// Pieces returns the token texts of ids.
func (e *Encoder) Pieces(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id >= 0 && int(id) < len(e.v.Tokens) {
			out[i] = e.v.Tokens[id]
		}
	}
	return out
}
