package tokenizer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// charsmap is a SentencePiece precompiled_charsmap: a little-endian uint32
// blob size, an XOR-compressed compact double array (XCDA) trie over input
// bytes, and the NUL-terminated replacement strings its leaves point into.
// The walk is the one llama.cpp's unigram tokenizer and sentencepiece do.
type charsmap struct {
	xcda []uint32
	repl []byte
}

func parseCharsmap(b []byte) (*charsmap, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap of %d bytes has no header: %w", len(b), ErrCorrupt)
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n%4 != 0 || n+4 >= uint64(len(b)) {
		return nil, fmt.Errorf("precompiled_charsmap trie of %d bytes does not fit the %d-byte blob: %w", n, len(b), ErrCorrupt)
	}
	c := &charsmap{xcda: make([]uint32, n/4), repl: b[4+n:]}
	for i := range c.xcda {
		c.xcda[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	return c, nil
}

func (c *charsmap) base(i uint32) uint32   { p := c.xcda[i]; return (p >> 10) << ((p & (1 << 9)) >> 6) }
func (c *charsmap) lcheck(i uint32) uint32 { return c.xcda[i] & ((1 << 31) | 0xff) }
func (c *charsmap) leaf(i uint32) bool     { return (c.xcda[i]>>8)&1 == 1 }
func (c *charsmap) value(i uint32) uint32  { return c.xcda[i] & ((1 << 31) - 1) }

// prefix returns the replacement for the longest rule matching a prefix of s
// and how many bytes it consumes; ok is false when no rule matches.
func (c *charsmap) prefix(s string) (repl string, n int, ok bool) {
	if len(c.xcda) == 0 {
		return "", 0, false
	}
	node := c.base(0)
	for i := 0; i < len(s); i++ {
		ch := uint32(s[i])
		if ch == 0 {
			break
		}
		node ^= ch
		if node >= uint32(len(c.xcda)) || c.lcheck(node) != ch {
			break
		}
		isLeaf := c.leaf(node)
		node ^= c.base(node)
		if node >= uint32(len(c.xcda)) {
			break
		}
		if isLeaf {
			off := c.value(node)
			if off >= uint32(len(c.repl)) {
				break
			}
			r := c.repl[off:]
			if end := bytes.IndexByte(r, 0); end >= 0 {
				r = r[:end]
			}
			repl, n, ok = string(r), i+1, true
		}
	}
	return repl, n, ok
}

// normalize rewrites s with the rules; invalid UTF-8 becomes U+FFFD.
func (c *charsmap) normalize(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		if r, n, ok := c.prefix(s[i:]); ok {
			b = append(b, r...)
			i += n
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b = append(b, "\uFFFD"...)
			i++
			continue
		}
		b = append(b, s[i:i+n]...)
		i += n
	}
	return string(b)
}
