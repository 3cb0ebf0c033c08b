package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Onig (the tokenizers library's regex engine) reads \s, \S and \d as
// Unicode classes; RE2 reads them as ASCII. These are their Unicode forms.
const (
	wsClassBody = `\t\n\v\f\r\x{85}\p{Z}` // White_Space
	wsClass     = `[` + wsClassBody + `]`
	nonWSClass  = `[^` + wsClassBody + `]`
)

// Tails of split regexes that need lookahead, which RE2 lacks; the splitter
// handles them by hand after the rest of the regex fails at a position.
const (
	tailWS      = `|\s+(?!\S)|\s+` // whitespace runs, the last space left to the next piece
	tailWSAhead = `|\s+(?!\S)`     // the same without the single-space fallback
)

// regexSplitter builds a splitter for a tokenizer.json split regex with Go's
// RE2 engine: the Perl classes are rewritten to their Unicode meaning and the
// common lookahead tail is emulated. Regexes with other lookaround or
// possessive quantifiers are refused.
func regexSplitter(re string) (splitter, error) {
	head, tail := re, ""
	switch {
	case strings.HasSuffix(re, tailWS):
		head, tail = strings.TrimSuffix(re, tailWS), tailWS
	case strings.HasSuffix(re, tailWSAhead):
		head, tail = strings.TrimSuffix(re, tailWSAhead), tailWSAhead
	}
	if strings.Contains(head, "(?=") || strings.Contains(head, "(?!") || strings.Contains(head, "(?<") {
		return nil, fmt.Errorf("split %s uses lookaround: %w", re, ErrUnsupported)
	}
	translated, err := unicodePerlClasses(head)
	if err != nil {
		return nil, fmt.Errorf("split %s: %v: %w", re, err, ErrUnsupported)
	}
	rx, err := regexp.Compile(`^(?:` + translated + `)`)
	if err != nil {
		return nil, fmt.Errorf("split %s: %v: %w", re, err, ErrUnsupported)
	}
	return func(r []rune) [][]rune {
		s := string(r)
		var out [][]rune
		gap := -1 // start of unmatched text, in bytes
		flushGap := func(end int) {
			if gap >= 0 {
				out = append(out, []rune(s[gap:end]))
				gap = -1
			}
		}
		for pos := 0; pos < len(s); {
			n := 0
			if loc := rx.FindStringIndex(s[pos:]); loc != nil {
				n = loc[1]
			}
			if n == 0 && tail != "" {
				n = wsTailMatch(s[pos:], tail == tailWS)
			}
			if n == 0 {
				if gap < 0 {
					gap = pos
				}
				_, sz := utf8.DecodeRuneInString(s[pos:])
				pos += sz
				continue
			}
			flushGap(pos)
			out = append(out, []rune(s[pos:pos+n]))
			pos += n
		}
		flushGap(len(s))
		return out
	}, nil
}

// wsTailMatch matches \s+(?!\S) (and, with single, the \s+ after it) at the
// start of s and returns the length of the match in bytes (0 for none).
func wsTailMatch(s string, single bool) int {
	end, runes, last := 0, 0, 0
	for end < len(s) {
		r, sz := utf8.DecodeRuneInString(s[end:])
		if !isWS(r) {
			break
		}
		last = end
		end += sz
		runes++
	}
	switch {
	case runes == 0:
		return 0
	case end == len(s):
		return end
	case runes > 1:
		return last // leave the last whitespace to the next piece
	case single:
		return end
	}
	return 0
}

// unicodePerlClasses rewrites \s, \S, \d and \D to Unicode classes, inside
// and outside brackets, and refuses possessive quantifiers.
func unicodePerlClasses(re string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			e := re[i+1]
			i++
			switch e {
			case 's':
				if inClass {
					b.WriteString(wsClassBody)
				} else {
					b.WriteString(wsClass)
				}
			case 'S':
				if inClass {
					return "", fmt.Errorf(`\S inside a class`)
				}
				b.WriteString(nonWSClass)
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				if inClass {
					return "", fmt.Errorf(`\D inside a class`)
				}
				b.WriteString(`\P{Nd}`)
			case 'p', 'P', 'x':
				// \p{L}, \x{85}: copy the braces so their '}' is not taken
				// for the end of a quantifier.
				b.WriteByte('\\')
				b.WriteByte(e)
				if i+1 < len(re) && re[i+1] == '{' {
					j := strings.IndexByte(re[i+1:], '}')
					if j < 0 {
						return "", fmt.Errorf("unterminated \\%c{", e)
					}
					b.WriteString(re[i+1 : i+2+j])
					i += j + 1
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// a ']' or '^]' right after '[' is literal
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case !inClass && (c == '+' || c == '*' || c == '?' || c == '}') && i+1 < len(re) && re[i+1] == '+':
			return "", fmt.Errorf("possessive quantifier")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
