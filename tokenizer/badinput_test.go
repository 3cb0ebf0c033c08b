package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// copyFixture copies a fixture directory into a temp dir so a test can
// break one file.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(fixtures, name)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	write := func(name, body string) func(dir string) {
		return func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				panic(err)
			}
		}
	}
	cases := []struct {
		name    string
		fixture string
		breakIt func(dir string)
		wantErr error
		wantMsg []string
	}{
		{"no tokenizer files", "gpt2", func(dir string) {
			os.Remove(filepath.Join(dir, "tokenizer.json"))
		}, ErrNotFound, []string{"neither tokenizer.model nor tokenizer.json"}},
		{"tokenizer.json not JSON", "gpt2", write("tokenizer.json", `{"model": {"type": "BPE", "vocab": {`), ErrCorrupt, []string{"tokenizer.json", "invalid JSON"}},
		{"tokenizer.json without model", "gpt2", write("tokenizer.json", `{"added_tokens": []}`), ErrCorrupt, []string{"tokenizer.json", `no "model"`}},
		{"tokenizer.json unknown model type", "gpt2", write("tokenizer.json", `{"model": {"type": "Magic", "vocab": {"a": 0}}}`), ErrUnsupported, []string{"Magic"}},
		{"tokenizer.json negative id", "gpt2", write("tokenizer.json", `{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}`), ErrCorrupt, []string{"-1"}},
		{"tokenizer.json bad merge", "gpt2", write("tokenizer.json", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}}`), ErrCorrupt, []string{"merges[0]"}},
		{"tokenizer.json duplicate id", "gpt2", write("tokenizer.json", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}`), ErrCorrupt, []string{"id 0"}},
		{"tokenizer.model truncated", "t5-unigram", func(dir string) {
			p := filepath.Join(dir, "tokenizer.model")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, ErrCorrupt, []string{"tokenizer.model", "runs past the end"}},
		{"tokenizer.model garbage", "t5-unigram", write("tokenizer.model", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), ErrCorrupt, []string{"tokenizer.model"}},
		{"tokenizer.model empty", "t5-unigram", write("tokenizer.model", ""), ErrCorrupt, []string{"empty"}},
		{"tokenizer_config.json not JSON", "gpt2", write("tokenizer_config.json", `{`), ErrCorrupt, []string{"tokenizer_config.json"}},
		{"config.json not JSON", "gpt2", write("config.json", `[`), ErrCorrupt, []string{"config.json"}},
		{"special token id outside vocab", "qwen2", write("config.json", `{"vocab_size": 433, "bos_token_id": 100000}`), ErrSpecialToken, []string{"config.json", "bos", "100000"}},
		{"special token string not in vocab", "qwen2", write("tokenizer_config.json", `{"eos_token": "<|nope|>"}`), ErrSpecialToken, []string{"tokenizer_config.json", "<|nope|>"}},
		{"config vocab_size below ids", "gpt2", write("config.json", `{"vocab_size": 10}`), ErrCorrupt, []string{"vocab_size 10"}},
		{"config vocab_size far above the tokenizer", "gpt2", write("config.json", `{"vocab_size": 4000000}`), ErrCorrupt, []string{"config.json", "vocab_size 4000000"}},
		{"config vocab_size far above the pieces", "llama-spm", write("config.json", `{"vocab_size": 4000000}`), ErrCorrupt, []string{"config.json", "vocab_size 4000000"}},
		{"pre-tokenizer llama.cpp lacks", "odd-pre", func(string) {}, ErrPreTokenizer, []string{`split 1: \p{L}+\p{N}*|\s+|[^\s\p{L}]+`, "tokenizer.json"}},
		{"chat_template of the wrong shape", "llama3", write("tokenizer_config.json", `{"chat_template": 5}`), ErrCorrupt, []string{"chat_template"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := copyFixture(t, c.fixture)
			c.breakIt(dir)
			v, err := FromDir(dir)
			if err == nil {
				t.Fatalf("no error; got a %s vocabulary of %d tokens", v.Model, len(v.Tokens))
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			for _, m := range c.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestMergeForms(t *testing.T) {
	t.Parallel()
	a, err := parseMerges([]byte(`["a b", "Ġ t", "ab c"]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseMerges([]byte(`[["a","b"], ["Ġ","t"], ["ab","c"]]`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("string form %v != list form %v", a, b)
	}
	// A space inside a part (list form only) is written as U+0120 in GGUF.
	dir := copyFixture(t, "gpt2")
	tj, err := ReadTokenizerJSONFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tj.Model.Merges = append(tj.Model.Merges, [2]string{"a b", "c"})
	d := &Dir{Path: dir, TokenizerJSON: tj}
	v, err := d.Vocab()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Merges[len(v.Merges)-1]; got != "a\u0120b c" {
		t.Fatalf("merge with a space = %q", got)
	}
}

func TestSentencePieceFields(t *testing.T) {
	t.Parallel()
	m, err := ReadSentencePieceFile(filepath.Join(fixtures, "llama-spm", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ModelType != SPBPE || !m.ByteFallback || m.UnkID != 0 || m.BosID != 1 || m.EosID != 2 || m.PadID != -1 {
		t.Fatalf("trainer spec: %+v", m)
	}
	if m.RemoveExtraWhitespaces || !m.AddDummyPrefix || m.NormalizerName != "identity" {
		t.Fatalf("normalizer spec: dummy %v extra-ws %v name %q", m.AddDummyPrefix, m.RemoveExtraWhitespaces, m.NormalizerName)
	}
	want := map[int]SPPiece{0: {"<unk>", 0, TokenUnknown}, 1: {"<s>", 0, TokenControl}, 3: {"<|im_start|>", 0, TokenUserDefined}, 5: {"<0x00>", 0, TokenByte}}
	for i, p := range want {
		if m.Pieces[i] != p {
			t.Errorf("piece %d = %+v, want %+v", i, m.Pieces[i], p)
		}
	}
	u, err := ReadSentencePieceFile(filepath.Join(fixtures, "t5-unigram", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	if u.ModelType != SPUnigram {
		t.Fatalf("model type %v", u.ModelType)
	}
}

func TestCharsmapBad(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {1, 2}, {8, 0, 0, 0, 1, 2, 3, 4}, {3, 0, 0, 0, 1, 2, 3, 4, 5}, {0xff, 0xff, 0xff, 0xff, 0}} {
		if _, err := parseCharsmap(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: err = %v", b, err)
		}
	}
	// A trie whose pointers lead outside it stops matching instead of panicking.
	c, err := parseCharsmap([]byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'x', 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.normalize("abc\xff"); got != "abc\uFFFD" {
		t.Fatalf("normalize = %q", got)
	}
}

func TestConfigForms(t *testing.T) {
	t.Parallel()
	write := func(dir, name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("AddedToken object and special_tokens_map", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "qwen2")
		write(dir, "tokenizer_config.json", `{"eos_token": {"content": "<|im_end|>", "lstrip": false, "special": true}, "add_eos_token": true}`)
		write(dir, "special_tokens_map.json", `{"pad_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}`)
		v, err := FromDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if v.Tokens[v.EOS] != "<|im_end|>" || v.Tokens[v.PAD] != "<|endoftext|>" || v.AddEOS == nil || !*v.AddEOS {
			t.Fatalf("eos %d pad %d add_eos %v", v.EOS, v.PAD, v.AddEOS)
		}
		if v.ChatTemplates != nil {
			t.Fatalf("chat templates %v from a config without one", v.ChatTemplates)
		}
	})
	t.Run("generation_config and list eos in config.json", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "llama3")
		write(dir, "generation_config.json", `{"eos_token_id": [434, 431], "bos_token_id": 430}`)
		v, err := FromDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v.GenerationEOS, []int32{434, 431}) {
			t.Fatalf("generation eos %v", v.GenerationEOS)
		}
	})
	t.Run("chat_template.jinja when the config has none", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "gpt2")
		write(dir, "chat_template.jinja", "{{ messages }}")
		v, err := FromDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.ChatTemplates) != 1 || v.ChatTemplates[0].Template != "{{ messages }}" {
			t.Fatalf("chat templates %v", v.ChatTemplates)
		}
	})
	t.Run("bert fillers in phantom-space form", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "bert-wordpiece")
		write(dir, "config.json", `{"vocab_size": 302}`)
		v, err := FromDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if v.Tokens[301] != "\u2581[PAD301]" || v.Types[301] != TokenUnused {
			t.Fatalf("filler %q %v", v.Tokens[301], v.Types[301])
		}
		f, err := ExportHF(v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(f.TokenizerJSON), "PAD301") {
			t.Fatal("export keeps the filler")
		}
	})
	t.Run("config vocab_size pads with [PAD{i}]", func(t *testing.T) {
		t.Parallel()
		v, err := FromDir(filepath.Join(fixtures, "llama-spm"))
		if err != nil {
			t.Fatal(err)
		}
		n := len(v.Tokens)
		if v.Tokens[n-1] != fmt.Sprintf("[PAD%d]", n-1) || v.Types[n-1] != TokenUnused || v.Scores[n-1] != -10000 {
			t.Fatalf("last token %q type %v score %v", v.Tokens[n-1], v.Types[n-1], v.Scores[n-1])
		}
	})
}

func TestAddBOSDefault(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "llama3")
	p := filepath.Join(dir, "tokenizer.json")
	tj, err := ReadTokenizerJSONFile(p)
	if err != nil {
		t.Fatal(err)
	}
	tj.PostProcessor = nil
	v, err := (&Dir{Path: dir, TokenizerJSON: tj}).Vocab()
	if err != nil {
		t.Fatal(err)
	}
	if v.AddBOS == nil || *v.AddBOS {
		t.Fatalf("add_bos %v, want an explicit false for llama-bpe without a BOS template", v.AddBOS)
	}
	w, err := FromDir(filepath.Join(fixtures, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	if w.AddBOS != nil {
		t.Fatalf("gpt-2: add_bos %v written; llama.cpp's default already matches", *w.AddBOS)
	}
}

func TestHostileSizes(t *testing.T) {
	t.Parallel()
	if _, err := ParseTokenizerJSON([]byte(`{"model":{"type":"BPE","vocab":{"a":4000000},"merges":[]}}`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("sparse ids: err = %v", err)
	}
	if _, err := ParseTokenizerJSON([]byte(`{"model":{"type":"BPE","vocab":{"a":0}},"added_tokens":[{"id":99999999,"content":"x"}]}`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("huge added id: err = %v", err)
	}
	if _, err := (&Dir{}).Vocab(); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty Dir: err = %v", err)
	}
}

// TestSentencePieceRoundTrip: parse → Marshal → parse gives the same model.
func TestSentencePieceRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"llama-spm", "t5-unigram"} {
		m, err := ReadSentencePieceFile(filepath.Join(fixtures, name, "tokenizer.model"))
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSentencePiece(m.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, back) {
			t.Errorf("%s: round trip changed the model", name)
		}
	}
}

// TestNoDummyPrefix: a SentencePiece BPE model without the dummy prefix
// writes add_space_prefix=false and the encoder adds no space.
func TestNoDummyPrefix(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "llama-spm")
	p := filepath.Join(dir, "tokenizer.model")
	m, err := ReadSentencePieceFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m.AddDummyPrefix = false
	if err := os.WriteFile(p, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range v.KVs() {
		if kv.Key == KeyAddSpacePrefix {
			found = kv.Value == false
		}
	}
	if !found {
		t.Fatal("no tokenizer.ggml.add_space_prefix=false")
	}
	enc, err := NewEncoder(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Decode(enc.Encode("Hello world", false)); got != "Hello world" {
		t.Fatalf("decoded %q", got)
	}
}

// TestLlamaHFPrefix: a byte-fallback BPE tokenizer.json without
// tokenizer.model takes its prefix space from the Metaspace definition.
func TestLlamaHFPrefix(t *testing.T) {
	t.Parallel()
	for scheme, wantPrefix := range map[string]bool{"first": true, "always": true, "never": false} {
		dir := copyFixture(t, "llama-spm")
		os.Remove(filepath.Join(dir, "tokenizer.model"))
		p := filepath.Join(dir, "tokenizer.json")
		b, _ := os.ReadFile(p)
		b = []byte(strings.Replace(string(b), `"prepend_scheme": "first"`, `"prepend_scheme": "`+scheme+`"`, 1))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := FromDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		got := v.AddSpacePrefix == nil || *v.AddSpacePrefix
		if got != wantPrefix {
			t.Errorf("%s: add_space_prefix %v", scheme, got)
		}
		enc, _ := NewEncoder(v)
		if dec := v.Decode(enc.Encode("Hi", false)); (dec == " Hi") != wantPrefix {
			t.Errorf("%s: decoded %q", scheme, dec)
		}
	}
}
