package tokenizer

import (
	"strings"
)

// PieceBytes returns the bytes a token stands for: byte-level tokens are
// mapped back through GPT-2's byte table, SentencePiece pieces have U+2581
// turned into spaces and <0xXX> byte tokens become their byte; WordPiece
// tokens in phantom-space form ("▁x") get their space back. Special tokens
// (CONTROL) are returned as their text.
func (v *Vocab) PieceBytes(id int32) []byte {
	if id < 0 || int(id) >= len(v.Tokens) {
		return nil
	}
	t := v.Tokens[id]
	typ := v.Types[id]
	if typ == TokenControl || typ == TokenUnknown || typ == TokenUnused {
		return []byte(t)
	}
	switch v.Model {
	case ModelGPT2:
		if typ == TokenUserDefined {
			return []byte(t)
		}
		out := make([]byte, 0, len(t))
		for _, r := range t {
			if b, ok := runeToByte[r]; ok {
				out = append(out, b)
			} else {
				out = append(out, string(r)...)
			}
		}
		return out
	case ModelLlama, ModelT5:
		if typ == TokenByte && len(t) == 6 && strings.HasPrefix(t, "<0x") && strings.HasSuffix(t, ">") {
			if b, ok := hexByte(t[3], t[4]); ok {
				return []byte{b}
			}
		}
		return []byte(strings.ReplaceAll(t, "\u2581", " "))
	case ModelBert:
		return []byte(strings.ReplaceAll(t, "\u2581", " "))
	}
	return []byte(t)
}

func hexByte(a, b byte) (byte, bool) {
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	x, ok1 := h(a)
	y, ok2 := h(b)
	return x<<4 | y, ok1 && ok2
}

// Decode joins the bytes of ids into text. For SentencePiece-style
// vocabularies the space the tokenizer prefixed is not removed; invalid
// UTF-8 (a token sequence cut inside a character) is kept as bytes.
func (v *Vocab) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		b = append(b, v.PieceBytes(id)...)
	}
	return string(b)
}
