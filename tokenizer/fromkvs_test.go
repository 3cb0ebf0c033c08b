package tokenizer

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// TestFromKVsRoundTrip: KVs → FromKVs gives back every field GGUF stores.
func TestFromKVsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range fixtureNames {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			v, err := FromDir(filepath.Join(fixtures, f.name))
			if err != nil {
				t.Fatal(err)
			}
			w, err := FromKVs(v.KVs())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w.KVs(), v.KVs()) {
				t.Fatal("KVs differ after the round trip")
			}
			if len(v.ChatTemplates) > 0 && len(w.ChatTemplates) == 0 {
				t.Fatal("chat templates lost")
			}
			if v.Model == ModelBert {
				return
			}
			e1, err := NewEncoder(v)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := NewEncoder(w) // no PreRegex: splitters from the pre name alone
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range readPrompts(t) {
				if a, b := e1.Encode(p, true), e2.Encode(p, true); !reflect.DeepEqual(a, b) {
					t.Errorf("%q: %v from the directory, %v from the KVs", p, a, b)
				}
			}
		})
	}
}

func TestFromKVsBad(t *testing.T) {
	t.Parallel()
	base := func() []KV {
		return []KV{{KeyModel, "gpt2"}, {KeyPre, "gpt-2"}, {KeyTokens, []string{"a", "b"}}, {KeyTokenType, []int32{1, 1}}, {KeyMerges, []string{"a b"}}}
	}
	cases := []struct {
		name string
		kvs  []KV
		want error
	}{
		{"no model", []KV{{KeyTokens, []string{"a"}}}, ErrNotFound},
		{"tokens not strings", append(base()[:2], KV{KeyTokens, []int32{1}}), ErrCorrupt},
		{"bad token type", append(base(), KV{KeyTokenType, []int32{1, 9}}), ErrCorrupt},
		{"types length", append(base(), KV{KeyTokenType, []int32{1}}), ErrCorrupt},
		{"eos outside vocab", append(base(), KV{KeyEOS, uint32(7)}), ErrSpecialToken},
		{"add_bos not bool", append(base(), KV{KeyAddBOS, uint32(1)}), ErrCorrupt},
		{"empty vocab", []KV{{KeyModel, "llama"}}, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := FromKVs(c.kvs); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// []any arrays and other integer types, as a generic GGUF reader returns them.
	v, err := FromKVs([]KV{{KeyModel, "gpt2"}, {KeyTokens, []any{"a", "b"}}, {KeyTokenType, []any{uint8(1), int64(3)}}, {KeyEOS, int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if v.EOS != 1 || v.Types[1] != TokenControl {
		t.Fatalf("eos %d types %v", v.EOS, v.Types)
	}
}
