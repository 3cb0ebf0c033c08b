package tokenizer

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// WordPiece ("bert") encoding the way llama.cpp's WPM tokenizer does it: the
// text is cut into words at whitespace, punctuation, ASCII symbols and CJK
// ideographs (each of those a word of its own), controls are dropped,
// letters lowercased and accents stripped when the normalizer flags say so;
// each word gets the phantom-space prefix ▁ and is covered greedily by the
// longest vocabulary entries, left to right. A word that cannot be covered
// becomes the unknown token.

// wpmFlags are llama.cpp's normalizer options for WPM vocabularies:
// tokenizer.ggml.normalizer.lowercase (default false) and strip_accents
// (default: the lowercase flag).
func (v *Vocab) wpmFlags() (lower, strip bool) {
	if v.NormLowercase != nil {
		lower = *v.NormLowercase
	}
	strip = lower
	if v.NormStripAccents != nil {
		strip = *v.NormStripAccents
	}
	return lower, strip
}

// nfdFirst is llama.cpp's unicode_cpts_normalize_nfd for one code point:
// the first code point of its canonical decomposition.
func nfdFirst(r rune) rune {
	if r < 0xC0 {
		return r
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if norm.NFD.IsNormal(buf[:n]) {
		return r
	}
	d := norm.NFD.Bytes(buf[:n])
	first, _ := utf8.DecodeRune(d)
	return first
}

// isWPMChinese is llama.cpp's is_chinese_char (the ranges of the
// tokenizers library's BertPreTokenizer, including its 0x2B920 typo).
func isWPMChinese(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// isWPMControl is llama.cpp's is_control flag: categories Cc, Cf, Co, Cs.
func isWPMControl(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// wpmWords is llama.cpp's llm_tokenizer_wpm_session::preprocess.
func wpmWords(text string, lower, strip bool) []string {
	var words []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range text {
		if strip {
			r = nfdFirst(r)
		}
		if isWS(r) {
			flush()
			continue
		}
		if r == 0 || r == utf8.RuneError || isWPMControl(r) {
			continue
		}
		if strip && unicode.Is(unicode.M, r) {
			continue
		}
		if lower {
			r = unicode.ToLower(r)
		}
		if unicode.IsPunct(r) || r < 0x7F && unicode.IsSymbol(r) || isWPMChinese(r) {
			flush()
			words = append(words, string(r))
			continue
		}
		cur = utf8.AppendRune(cur, r)
	}
	flush()
	return words
}

// encodeWPM appends the ids of text (one fragment between special tokens).
func (e *Encoder) encodeWPM(text string, out []int32) []int32 {
	lower, strip := e.v.wpmFlags()
	for _, w := range wpmWords(text, lower, strip) {
		word := "\u2581" + w
		n := len(word)
		start := len(out)
		for i := 0; i < n; i++ {
			matched := false
			for j := min(n, i+e.maxTokBytes+1); j > i; j-- {
				if id, ok := e.ids[word[i:j]]; ok {
					out = append(out, id)
					matched = true
					i = j - 1
					break
				}
			}
			if !matched {
				out = out[:start]
				break
			}
		}
		if len(out) == start {
			out = append(out, e.v.UNK)
		}
	}
	return out
}
