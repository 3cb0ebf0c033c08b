package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
)

// splitter cuts one piece of text into smaller pieces. The splitters are
// hand-written versions of the regexes, as llama.cpp's unicode.cpp has for
// its common ones: Go's regexp has no lookahead, which \s+(?!\S) needs.
type splitter func(r []rune) [][]rune

func isL(r rune) bool  { return unicode.IsLetter(r) }
func isN(r rune) bool  { return unicode.IsNumber(r) }
func isWS(r rune) bool { return unicode.IsSpace(r) }

func at(r []rune, i int) (rune, bool) {
	if i < 0 || i >= len(r) {
		return 0, false
	}
	return r[i], true
}

// splitGPT2 implements RegexGPT2:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(r []rune) [][]rune {
	var out [][]rune
	other := func(c rune) bool { return !isWS(c) && !isL(c) && !isN(c) }
	for pos := 0; pos < len(r); {
		start := pos
		c := r[pos]
		if c == '\'' {
			if n, ok := at(r, pos+1); ok {
				if n == 's' || n == 't' || n == 'm' || n == 'd' {
					out = append(out, r[pos:pos+2])
					pos += 2
					continue
				}
				if n2, ok := at(r, pos+2); ok && (n == 'r' && n2 == 'e' || n == 'v' && n2 == 'e' || n == 'l' && n2 == 'l') {
					out = append(out, r[pos:pos+3])
					pos += 3
					continue
				}
			}
		}
		// c2 is the class-deciding rune at q: after an optional leading space.
		c2, q := c, pos
		if c == ' ' {
			if n, ok := at(r, pos+1); ok {
				c2, q = n, pos+1
			}
		}
		switch {
		case isL(c2):
			pos = q + 1
			for pos < len(r) && isL(r[pos]) {
				pos++
			}
		case isN(c2):
			pos = q + 1
			for pos < len(r) && isN(r[pos]) {
				pos++
			}
		case other(c2):
			pos = q + 1
			for pos < len(r) && other(r[pos]) {
				pos++
			}
		default:
			end := pos
			for end < len(r) && isWS(r[end]) {
				end++
			}
			switch {
			case end == len(r) || end-pos == 1:
				pos = end
			default:
				pos = end - 1
			}
		}
		out = append(out, r[start:pos])
	}
	return out
}

// splitLlama3 implements RegexLlama3 (maxDigits 3) and RegexQwen2
// (maxDigits 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(maxDigits int) splitter {
	return func(r []rune) [][]rune {
		var out [][]rune
		nl := func(c rune) bool { return c == '\r' || c == '\n' }
		for pos := 0; pos < len(r); {
			start := pos
			c := r[pos]
			if c == '\'' {
				if n, ok := at(r, pos+1); ok {
					n = unicode.ToLower(n)
					if n == 's' || n == 't' || n == 'm' || n == 'd' {
						out = append(out, r[pos:pos+2])
						pos += 2
						continue
					}
					if n2, ok := at(r, pos+2); ok {
						n2 = unicode.ToLower(n2)
						if n == 'r' && n2 == 'e' || n == 'v' && n2 == 'e' || n == 'l' && n2 == 'l' {
							out = append(out, r[pos:pos+3])
							pos += 3
							continue
						}
					}
				}
			}
			if !nl(c) && !isN(c) {
				if n, ok := at(r, pos+1); isL(c) || ok && isL(n) {
					pos++
					for pos < len(r) && isL(r[pos]) {
						pos++
					}
					out = append(out, r[start:pos])
					continue
				}
			}
			if isN(c) {
				for pos < len(r) && isN(r[pos]) && pos-start < maxDigits {
					pos++
				}
				out = append(out, r[start:pos])
				continue
			}
			c2 := c
			if c == ' ' {
				c2, _ = at(r, pos+1)
				if pos+1 >= len(r) {
					c2 = ' '
				}
			}
			if !isWS(c2) && !isL(c2) && !isN(c2) {
				if c == ' ' {
					pos++
				}
				for pos < len(r) && !isWS(r[pos]) && !isL(r[pos]) && !isN(r[pos]) {
					pos++
				}
				for pos < len(r) && nl(r[pos]) {
					pos++
				}
				out = append(out, r[start:pos])
				continue
			}
			end, lastNL := pos, -1
			for end < len(r) && isWS(r[end]) {
				if nl(r[end]) {
					lastNL = end + 1
				}
				end++
			}
			switch {
			case lastNL > 0:
				pos = lastNL
			case end-pos > 1 && end < len(r):
				pos = end - 1
			default:
				pos = end
			}
			out = append(out, r[start:pos])
		}
		return out
	}
}

// splitIsolate isolates the maximal runs (or, with single, each rune) for
// which match holds, keeping the text between them as pieces too.
func splitIsolate(match func(rune) bool, single bool) splitter {
	return func(r []rune) [][]rune {
		var out [][]rune
		start := 0
		for pos := 0; pos < len(r); {
			if !match(r[pos]) {
				pos++
				continue
			}
			if start < pos {
				out = append(out, r[start:pos])
			}
			end := pos + 1
			if !single {
				for end < len(r) && match(r[end]) {
					end++
				}
			}
			out = append(out, r[pos:end])
			pos, start = end, end
		}
		if start < len(r) {
			out = append(out, r[start:])
		}
		return out
	}
}

func isPunctLlama(c rune) bool {
	return unicode.IsPunct(c) || strings.ContainsRune("$+<=>^~|`", c)
}

// splittersFor returns the splitters for a pre name, or an error when the
// encoder does not implement its regexes.
func splittersFor(pre string, regexes []string) ([]splitter, error) {
	if regexes == nil {
		rs, ok := preRegexesFor(pre)
		if !ok {
			return nil, fmt.Errorf("pre-tokenizer %q: %w", pre, ErrUnsupported)
		}
		regexes = rs
	}
	var out []splitter
	for _, re := range normaliseRegexes(regexes) {
		switch re {
		case normaliseRegexes([]string{RegexGPT2})[0], `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`:
			out = append(out, splitGPT2)
		case normaliseRegexes([]string{RegexLlama3})[0]:
			out = append(out, splitLlama3(3))
		case normaliseRegexes([]string{RegexQwen2})[0]:
			out = append(out, splitLlama3(1))
		case RegexDigit:
			out = append(out, splitIsolate(isN, true))
		case RegexDigits:
			out = append(out, splitIsolate(isN, false))
		case RegexPunct:
			out = append(out, splitIsolate(isPunctLlama, false))
		case "[0-9][0-9][0-9]":
			out = append(out, splitTriples)
		default:
			sp, err := regexSplitter(re)
			if err != nil {
				return nil, fmt.Errorf("encoding with pre-tokenizer %q: %w", pre, err)
			}
			out = append(out, sp)
		}
	}
	return out, nil
}

// splitTriples isolates runs of three ASCII digits.
func splitTriples(r []rune) [][]rune {
	var out [][]rune
	start := 0
	d := func(i int) bool { return i < len(r) && r[i] >= '0' && r[i] <= '9' }
	for pos := 0; pos+2 < len(r); {
		if d(pos) && d(pos+1) && d(pos+2) {
			if start < pos {
				out = append(out, r[start:pos])
			}
			out = append(out, r[pos:pos+3])
			pos += 3
			start = pos
			continue
		}
		pos++
	}
	if start < len(r) {
		out = append(out, r[start:])
	}
	return out
}

// PreSplit cuts text into the pieces llama.cpp's pre-tokenizer of this name
// makes (before byte-level encoding and merges).
func PreSplit(pre, text string) ([]string, error) {
	sp, err := splittersFor(pre, nil)
	if err != nil {
		return nil, err
	}
	pieces := [][]rune{[]rune(text)}
	for _, s := range sp {
		var next [][]rune
		for _, p := range pieces {
			next = append(next, s(p)...)
		}
		pieces = next
	}
	out := make([]string, len(pieces))
	for i, p := range pieces {
		out[i] = string(p)
	}
	return out, nil
}

// PreNames lists the tokenizer.ggml.pre names DetectPre can give, each with
// the split regexes (tokenizer.json form) that define it.
func PreNames() map[string][]string {
	out := make(map[string][]string, len(preTypes))
	for _, p := range preTypes {
		out[p.name] = append([]string(nil), p.forms[0]...)
	}
	return out
}
