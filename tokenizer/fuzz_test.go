package tokenizer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func seedFiles(f *testing.F, name string) {
	paths, _ := filepath.Glob(filepath.Join(fixtures, "*", name))
	if len(paths) == 0 {
		f.Fatalf("no %s fixtures", name)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// The seeds are whole fixture files (tens of KB); run the fuzzers with a
// short -fuzzminimizetime (say 2s), or minimising each new input stalls them.

// FuzzSentencePiece: the protobuf decoder never panics, and what it accepts
// builds a vocabulary and an encoder that encode without panicking.
func FuzzSentencePiece(f *testing.F) {
	seedFiles(f, "tokenizer.model")
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x0f})
	f.Add([]byte{0x12, 0x02, 0x18, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSentencePiece(b)
		if err != nil {
			return
		}
		// write → read → compare (as bytes: scores may be NaN)
		enc := m.Marshal()
		back, err := ParseSentencePiece(enc)
		if err != nil {
			t.Fatalf("re-reading our own serialization: %v", err)
		}
		if !bytes.Equal(back.Marshal(), enc) {
			t.Fatal("serialization round trip changed the model")
		}
		d := &Dir{SentencePiece: m}
		v, err := d.Vocab()
		if err != nil {
			return
		}
		if enc, err := NewEncoder(v); err == nil {
			enc.Encode("Hello wörld 123 🙂 <s>", true)
		}
	})
}

// FuzzTokenizerJSON: the tokenizer.json reader and the vocabulary builder
// never panic; an accepted vocabulary exports and encodes without panicking.
func FuzzTokenizerJSON(f *testing.F) {
	seedFiles(f, "tokenizer.json")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","vocab":[["a",-1],["b",-2]],"unk_id":0}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tj, err := ParseTokenizerJSON(b)
		if err != nil {
			return
		}
		if tj.VocabSize() > 1<<16 {
			return // keep each run small; the caps are tested elsewhere
		}
		d := &Dir{TokenizerJSON: tj}
		v, err := d.Vocab()
		if err != nil {
			return
		}
		_ = v.KVs()
		_, _ = ExportHF(v)
		if enc, err := NewEncoder(v); err == nil {
			enc.Encode("Hello wörld 123 🙂 <|endoftext|>\n\n  x", true)
		}
	})
}

// TestExportRoundTrip: a vocabulary exported to tokenizer.json and read back
// is the same vocabulary and encodes the prompts the same.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	prompts := readPrompts(t)
	for _, name := range []string{"gpt2", "llama3", "qwen2", "starcoder-like", "bert-wordpiece"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := FromDir(filepath.Join(fixtures, name))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := WriteHF(v, dir); err != nil {
				t.Fatal(err)
			}
			cfg := fmt.Sprintf(`{"vocab_size": %d}`, len(v.Tokens))
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := FromDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if w.Model != v.Model || w.Pre != v.Pre || !reflect.DeepEqual(w.Tokens, v.Tokens) ||
				!reflect.DeepEqual(w.Types, v.Types) || !reflect.DeepEqual(w.Merges, v.Merges) {
				t.Fatalf("round trip changed the vocabulary: model %s/%s pre %s/%s", v.Model, w.Model, v.Pre, w.Pre)
			}
			if w.BOS != v.BOS || w.EOS != v.EOS || w.PAD != v.PAD || !reflect.DeepEqual(w.ChatTemplates, v.ChatTemplates) {
				t.Fatalf("special tokens or chat template changed: bos %d/%d eos %d/%d pad %d/%d", v.BOS, w.BOS, v.EOS, w.EOS, v.PAD, w.PAD)
			}
			if v.Model == ModelBert {
				return // no WordPiece encoder
			}
			e1, _ := NewEncoder(v)
			e2, err := NewEncoder(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range prompts {
				if a, b := e1.Encode(p, true), e2.Encode(p, true); !reflect.DeepEqual(a, b) {
					t.Errorf("%q: %v vs %v", p, a, b)
				}
			}
		})
	}
}

func readPrompts(t testing.TB) []string {
	b, err := os.ReadFile(filepath.Join(fixtures, "prompts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	if err := jsonUnmarshal(b, &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

func BenchmarkParseSentencePiece(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtures, "llama-spm", "tokenizer.model"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseSentencePiece(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeLlama3(b *testing.B) {
	v, err := FromDir(filepath.Join(fixtures, "llama3"))
	if err != nil {
		b.Fatal(err)
	}
	enc, err := NewEncoder(v)
	if err != nil {
		b.Fatal(err)
	}
	prompts := readPrompts(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range prompts {
			enc.Encode(p, true)
		}
	}
}
