package tokenizer

import (
	"slices"
	"testing"
)

// wpmVocab is a tiny WordPiece vocabulary in GGUF's phantom-space form.
func wpmVocab(lower *bool) *Vocab {
	v := newVocab(ModelBert)
	for _, t := range []string{"[UNK]", "[CLS]", "[SEP]", "▁hello", "▁world", "▁un", "aff", "able", "▁,", "▁!", "▁日", "▁cafe", "▁Hello"} {
		v.Tokens = append(v.Tokens, t)
		typ := TokenNormal
		if t[0] == '[' {
			typ = TokenControl
		}
		v.Types = append(v.Types, typ)
	}
	v.Types[0] = TokenUnknown
	v.UNK, v.CLS, v.SEP = 0, 1, 2
	v.NormLowercase = lower
	return v
}

func TestWPMEncode(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		lower *bool
		text  string
		want  []int32
	}{
		// Greedy longest match with continuation pieces; punctuation is a word.
		{&yes, "Hello, unaffable world!", []int32{3, 8, 5, 6, 7, 4, 9}},
		// A word that cannot be covered is one [UNK], the rest goes on.
		{&yes, "hello xyz world", []int32{3, 0, 4}},
		// CJK ideographs are words of their own; strip_accents follows lowercase.
		{&yes, "日日 Café", []int32{10, 10, 11}},
		// Without the flag llama.cpp neither lowercases nor strips accents.
		{nil, "Hello Café", []int32{12, 0}},
		{&no, "hello", []int32{3}},
		// Controls dropped, whitespace of any kind separates.
		{&yes, "hel\u200blo\u3000world", []int32{3, 4}},
		// Special tokens are cut out first.
		{&yes, "[CLS]hello[SEP]", []int32{1, 3, 2}},
	} {
		e, err := NewEncoder(wpmVocab(tc.lower))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Encode(tc.text, true); !slices.Equal(got, tc.want) {
			t.Errorf("%q (lowercase %v): got %v %q, want %v", tc.text, tc.lower, got, e.Pieces(got), tc.want)
		}
	}
}

func TestWPMNeedsUnknown(t *testing.T) {
	v := wpmVocab(nil)
	v.Types[0], v.UNK = TokenNormal, NoToken
	if _, err := NewEncoder(v); err == nil {
		t.Fatal("a WordPiece vocabulary without [UNK] was accepted")
	}
}
