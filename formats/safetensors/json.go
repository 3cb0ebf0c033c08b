package safetensors

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON scanner for safetensors headers and shard indexes.
//
// encoding/json keeps the last of duplicate object keys without a word and
// allocates for every token; this scanner reports duplicates to its caller,
// returns strings without escapes as substrings of the input (no copy) and
// follows RFC 8259 as serde_json does: no comments, no trailing commas, no
// leading zeros, control characters must be escaped, lone surrogate escapes
// are errors, and nesting is capped at maxDepth.

const maxDepth = 128

// syntaxError is a JSON error at a byte position of the scanned text.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("byte %d: %s", e.pos, e.msg) }

type scanner struct {
	s string
	i int
}

func (p *scanner) errorf(format string, args ...any) error {
	return &syntaxError{pos: p.i, msg: fmt.Sprintf(format, args...)}
}

// ws skips JSON whitespace.
func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next non-whitespace byte, 0 at the end of input.
func (p *scanner) peek() byte {
	p.ws()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

// describe names the token starting at the current position for errors.
func (p *scanner) describe() string {
	if p.i >= len(p.s) {
		return "the end of the text"
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case strings.HasPrefix(p.s[p.i:], "true"), strings.HasPrefix(p.s[p.i:], "false"):
		return "a boolean"
	case strings.HasPrefix(p.s[p.i:], "null"):
		return "null"
	case c < 0x20 || c >= 0x7f:
		return fmt.Sprintf("byte 0x%02x", c)
	default:
		return fmt.Sprintf("%q", c)
	}
}

// expect consumes byte c after optional whitespace.
func (p *scanner) expect(c byte, what string) error {
	if p.peek() != c {
		return p.errorf("expected %s, found %s", what, p.describe())
	}
	p.i++
	return nil
}

// str scans a string. Strings without escapes are returned as substrings of
// the input.
func (p *scanner) str() (string, error) {
	if p.peek() != '"' {
		return "", p.errorf("expected a string, found %s", p.describe())
	}
	p.i++
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			out := p.s[start:p.i]
			p.i++
			return out, nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.errorf("control character 0x%02x in string", c)
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

// strSlow decodes a string with escapes, starting over at start.
func (p *scanner) strSlow(start int) (string, error) {
	// Find the end first so that the builder is sized once: the decoded
	// string is never longer than its escaped form.
	end := start
	for end < len(p.s) && p.s[end] != '"' {
		if p.s[end] == '\\' {
			end++
		}
		end++
	}
	var b strings.Builder
	b.Grow(min(end, len(p.s)) - start)
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character 0x%02x in string", c)
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			break
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 {
					return "", p.errorf("lone trailing surrogate \\u%04x in string", r)
				}
				if !strings.HasPrefix(p.s[p.i:], `\u`) {
					return "", p.errorf("lone leading surrogate \\u%04x in string", r)
				}
				p.i += 2
				r2, err := p.hex4()
				if err != nil {
					return "", err
				}
				if r2 < 0xDC00 || r2 > 0xDFFF {
					return "", p.errorf("lone leading surrogate \\u%04x in string", r)
				}
				r = utf16.DecodeRune(r, r2)
			}
			b.WriteRune(r)
		default:
			p.i--
			return "", p.errorf("invalid escape \\%c in string", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *scanner) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, p.errorf("truncated \\u escape")
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, p.errorf("invalid \\u escape")
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, nil
}

// uint scans a non-negative integer that fits an int64, as serde_json's
// usize: no sign, fraction or exponent.
func (p *scanner) uint() (int64, error) {
	c := p.peek()
	if c == '-' {
		return 0, p.errorf("negative number where a size or offset is expected")
	}
	if c < '0' || c > '9' {
		return 0, p.errorf("expected a non-negative integer, found %s", p.describe())
	}
	start := p.i
	var n uint64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d := uint64(p.s[p.i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, p.errorf("integer %s… does not fit 63 bits", p.s[start:p.i])
		}
		n = n*10 + d
		p.i++
	}
	if p.i-start > 1 && p.s[start] == '0' {
		p.i = start
		return 0, p.errorf("number with a leading zero")
	}
	if p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i = start
		return 0, p.errorf("expected an integer, found a floating-point number")
	}
	return int64(n), nil
}

// number scans any JSON number and returns its text.
func (p *scanner) number() (string, error) {
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	n := digits()
	if n == 0 {
		return "", p.errorf("invalid number")
	}
	if n > 1 && p.s[intStart] == '0' {
		return "", p.errorf("number with a leading zero")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.errorf("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.errorf("invalid number")
		}
	}
	return p.s[start:p.i], nil
}

// skipStr scans a string without decoding it: escapes are checked for
// form only.
func (p *scanner) skipStr() error {
	if p.peek() != '"' {
		return p.errorf("expected a string, found %s", p.describe())
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return nil
		case c < 0x20:
			return p.errorf("control character 0x%02x in string", c)
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return p.errorf("unterminated string")
			}
			switch p.s[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				p.i += 2
				if _, err := p.hex4(); err != nil {
					return err
				}
			default:
				return p.errorf("invalid escape \\%c in string", p.s[p.i+1])
			}
			continue
		}
		p.i++
	}
	return p.errorf("unterminated string")
}

// countMembers counts the members of the object that starts the input,
// stopping quietly at the first syntax error (the real parse reports it).
func countMembers(s string) int {
	p := &scanner{s: s}
	if p.expect('{', "") != nil || p.peek() == '}' {
		return 0
	}
	n := 0
	for {
		if p.skipStr() != nil || p.expect(':', "") != nil || p.skip(0) != nil {
			return n
		}
		n++
		if more, err := p.next('}'); err != nil || !more {
			return n
		}
	}
}

// skip scans and discards one value of any type.
func (p *scanner) skip(depth int) error {
	if depth > maxDepth {
		return p.errorf("values nested more than %d deep", maxDepth)
	}
	switch c := p.peek(); {
	case c == '"':
		return p.skipStr()
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.number()
		return err
	case c == '{':
		p.i++
		if p.peek() == '}' {
			p.i++
			return nil
		}
		for {
			if err := p.skipStr(); err != nil {
				return err
			}
			if err := p.expect(':', "':'"); err != nil {
				return err
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if more, err := p.next('}'); err != nil || !more {
				return err
			}
		}
	case c == '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if more, err := p.next(']'); err != nil || !more {
				return err
			}
		}
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], lit) {
				p.i += len(lit)
				return nil
			}
		}
		return p.errorf("expected a value, found %s", p.describe())
	}
}

// next consumes ',' (more elements follow: true) or the closing byte (false).
func (p *scanner) next(closing byte) (bool, error) {
	switch p.peek() {
	case ',':
		p.i++
		return true, nil
	case closing:
		p.i++
		return false, nil
	}
	return false, p.errorf("expected ',' or '%c', found %s", closing, p.describe())
}

// atEnd reports whether only whitespace remains.
func (p *scanner) atEnd() bool {
	p.ws()
	return p.i == len(p.s)
}

// literal consumes lit if it comes next.
func (p *scanner) literal(lit string) bool {
	p.ws()
	if strings.HasPrefix(p.s[p.i:], lit) {
		p.i += len(lit)
		return true
	}
	return false
}

// validUTF8 reports the offset of the first invalid UTF-8 byte, or -1.
func validUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}
