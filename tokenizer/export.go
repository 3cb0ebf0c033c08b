package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// HFFiles is a Hugging Face tokenizer rebuilt from a Vocab.
type HFFiles struct {
	TokenizerJSON   []byte // tokenizer.json
	TokenizerConfig []byte // tokenizer_config.json
	// TokenizerModel is tokenizer.model for llama and t5 vocabularies (nil
	// for the others, or when the vocabulary cannot be a SentencePiece
	// model: no unknown token, duplicate pieces).
	TokenizerModel []byte
}

// ordered JSON object: keys in insertion order, like the files the
// tokenizers library writes.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// ExportHF rebuilds tokenizer.json and tokenizer_config.json from a Vocab
// (what a GGUF holds), so that transformers tokenizes like llama.cpp: gpt2
// vocabularies become byte-level BPE with the pre-tokenizer's split regexes,
// llama ones the BPE-with-byte-fallback form transformers' LlamaTokenizerFast
// conversion produces (Metaspace pre-tokenizer, merges derived from the
// scores), t5 ones a Unigram model.
func ExportHF(v *Vocab) (*HFFiles, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	var model, pre, dec, norm any
	switch v.Model {
	case ModelGPT2:
		regexes := v.PreRegex
		if regexes == nil {
			rs, ok := preRegexesFor(v.Pre)
			if !ok {
				return nil, fmt.Errorf("tokenizer: export: pre-tokenizer %q has no known definition: %w", v.Pre, ErrUnsupported)
			}
			regexes = rs
		}
		steps := make([]any, 0, len(regexes)+1)
		for _, r := range regexes {
			steps = append(steps, obj{{"type", "Split"}, {"pattern", obj{{"Regex", r}}}, {"behavior", "Isolated"}, {"invert", false}})
		}
		steps = append(steps, obj{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}})
		pre = obj{{"type", "Sequence"}, {"pretokenizers", steps}}
		dec = obj{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}
		if v.Normalizer == "NFC" {
			norm = obj{{"type", "NFC"}}
		}
		merges := make([][2]string, 0, len(v.Merges))
		for i, m := range v.Merges {
			a, b, ok := splitMerge(m)
			if !ok {
				return nil, fmt.Errorf("tokenizer: export: merge %d %q has no space: %w", i, m, ErrCorrupt)
			}
			merges = append(merges, [2]string{a, b})
		}
		ignore := false
		switch v.Pre {
		case "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral", "tekken", "minicpm5":
			ignore = true
		}
		model = obj{{"type", "BPE"}, {"dropout", nil}, {"unk_token", nil}, {"continuing_subword_prefix", nil},
			{"end_of_word_suffix", nil}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", ignore},
			{"vocab", vocabObj(v)}, {"merges", merges}}
	case ModelLlama:
		scheme := "first"
		if v.AddSpacePrefix != nil && !*v.AddSpacePrefix {
			scheme = "never"
		}
		pre = obj{{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", false}}
		dec = spmDecoder(scheme != "never")
		var unk any
		if v.UNK != NoToken {
			unk = v.Tokens[v.UNK]
		}
		model = obj{{"type", "BPE"}, {"dropout", nil}, {"unk_token", unk}, {"continuing_subword_prefix", nil},
			{"end_of_word_suffix", nil}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
			{"vocab", vocabObj(v)}, {"merges", spmMerges(v)}}
	case ModelT5:
		// SentencePiece's own normalisation, which llama.cpp follows: collapse
		// spaces, add one dummy prefix, escape spaces. Metaspace would skip
		// the prefix before text that already starts with a space.
		var steps []any
		if len(v.PrecompiledCharsmap) > 0 {
			steps = append(steps, obj{{"type", "Precompiled"}, {"precompiled_charsmap", base64.StdEncoding.EncodeToString(v.PrecompiledCharsmap)}})
		}
		if v.RemoveExtraWhitespaces == nil || *v.RemoveExtraWhitespaces {
			steps = append(steps, obj{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
				obj{{"type", "Replace"}, {"pattern", obj{{"Regex", " {2,}"}}}, {"content", " "}})
		}
		scheme := "never"
		if v.AddSpacePrefix == nil || *v.AddSpacePrefix {
			scheme = "always"
			steps = append(steps, obj{{"type", "Prepend"}, {"prepend", " "}})
		}
		steps = append(steps, obj{{"type", "Replace"}, {"pattern", obj{{"String", " "}}}, {"content", "\u2581"}})
		norm = obj{{"type", "Sequence"}, {"normalizers", steps}}
		dec = obj{{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", true}}
		pieces := make([][2]any, len(v.Tokens))
		hasBytes := false
		for i, t := range v.Tokens {
			s := 0.0
			if v.Scores != nil {
				s = float64(v.Scores[i])
			}
			pieces[i] = [2]any{t, s}
			hasBytes = hasBytes || v.Types[i] == TokenByte
		}
		var unk any
		if v.UNK != NoToken {
			unk = v.UNK
		}
		model = obj{{"type", "Unigram"}, {"unk_id", unk}, {"vocab", pieces}, {"byte_fallback", hasBytes}}
	case ModelBert:
		// Undo the phantom-space form: "▁x" starts a word, anything else
		// continues one ("##x"); CONTROL tokens and fillers stay as they are.
		vocab := make(obj, 0, len(v.Tokens))
		seen := map[string]bool{}
		for i, t := range v.Tokens {
			switch {
			case v.Types[i] == TokenUnused && t == fmt.Sprintf("\u2581[PAD%d]", i):
				continue
			case v.Types[i] == TokenControl || v.Types[i] == TokenUnknown:
			case strings.HasPrefix(t, "\u2581"):
				t = strings.TrimPrefix(t, "\u2581")
			default:
				t = "##" + t
			}
			if !seen[t] {
				seen[t] = true
				vocab = append(vocab, kv{t, i})
			}
		}
		var unk any = "[UNK]"
		if v.UNK != NoToken {
			unk = v.Tokens[v.UNK]
		}
		// The normalizer flags when the GGUF has them; files written before
		// tokenizer.ggml.normalizer.* existed came from llama.cpp versions
		// whose WPM tokenizer always lowercased and stripped accents.
		lower := v.NormLowercase == nil || *v.NormLowercase
		var strip any // null: follow lowercase
		if v.NormStripAccents != nil {
			strip = *v.NormStripAccents
		}
		norm = obj{{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true}, {"strip_accents", strip}, {"lowercase", lower}}
		pre = obj{{"type", "BertPreTokenizer"}}
		dec = obj{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}
		model = obj{{"type", "WordPiece"}, {"unk_token", unk}, {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100}, {"vocab", vocab}}
	default:
		return nil, fmt.Errorf("tokenizer: export of %q vocabularies to tokenizer.json: %w", v.Model, ErrUnsupported)
	}

	var added []any
	for i, t := range v.Types {
		if t == TokenControl || t == TokenUserDefined || t == TokenUnknown {
			special := t != TokenUserDefined
			added = append(added, obj{{"id", i}, {"content", v.Tokens[i]}, {"single_word", false}, {"lstrip", false},
				{"rstrip", false}, {"normalized", !special}, {"special", special}})
		}
	}
	if added == nil {
		added = []any{}
	}
	tj := obj{{"version", "1.0"}, {"truncation", nil}, {"padding", nil}, {"added_tokens", added},
		{"normalizer", norm}, {"pre_tokenizer", pre}, {"post_processor", postProcessor(v)}, {"decoder", dec}, {"model", model}}
	tjb, err := marshalIndent(tj)
	if err != nil {
		return nil, err
	}

	cfg := obj{}
	tokText := func(id int32) any {
		if id == NoToken {
			return nil
		}
		return v.Tokens[id]
	}
	if v.AddBOS != nil {
		cfg = append(cfg, kv{"add_bos_token", *v.AddBOS})
	}
	if v.AddEOS != nil {
		cfg = append(cfg, kv{"add_eos_token", *v.AddEOS})
	}
	cfg = append(cfg, kv{"bos_token", tokText(v.BOS)}, kv{"eos_token", tokText(v.EOS)}, kv{"unk_token", tokText(v.UNK)},
		kv{"pad_token", tokText(v.PAD)})
	if v.SEP != NoToken {
		cfg = append(cfg, kv{"sep_token", tokText(v.SEP)})
	}
	if v.MASK != NoToken {
		cfg = append(cfg, kv{"mask_token", tokText(v.MASK)})
	}
	switch {
	case len(v.ChatTemplates) == 1 && v.ChatTemplates[0].Name == "":
		cfg = append(cfg, kv{"chat_template", v.ChatTemplates[0].Template})
	case len(v.ChatTemplates) > 0:
		var list []any
		for _, t := range v.ChatTemplates {
			list = append(list, obj{{"name", t.Name}, {"template", t.Template}})
		}
		cfg = append(cfg, kv{"chat_template", list})
	}
	cfg = append(cfg, kv{"clean_up_tokenization_spaces", false}, kv{"model_max_length", 1 << 30},
		kv{"tokenizer_class", "PreTrainedTokenizerFast"})
	cfgb, err := marshalIndent(cfg)
	if err != nil {
		return nil, err
	}
	files := &HFFiles{TokenizerJSON: tjb, TokenizerConfig: cfgb}
	if v.Model == ModelLlama || v.Model == ModelT5 {
		if m, err := SentencePieceFromVocab(v); err == nil {
			files.TokenizerModel = m.Marshal()
		}
	}
	return files, nil
}

// WriteHF writes tokenizer.json, tokenizer_config.json and, for
// SentencePiece-style vocabularies, tokenizer.model into dir.
func WriteHF(v *Vocab, dir string) error {
	f, err := ExportHF(v)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"tokenizer.json": f.TokenizerJSON, "tokenizer_config.json": f.TokenizerConfig, "tokenizer.model": f.TokenizerModel} {
		if b == nil {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}

func marshalIndent(v any) ([]byte, error) {
	b, err := marshalNoEscape(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// vocabObj is the model vocab in id order (first id wins for duplicates).
// The converter's [PAD{i}] fillers are left out: they only pad the
// embedding, and reading the export back with config.json's vocab_size
// recreates them.
func vocabObj(v *Vocab) obj {
	o := make(obj, 0, len(v.Tokens))
	seen := make(map[string]bool, len(v.Tokens))
	for i, t := range v.Tokens {
		if seen[t] || v.Types[i] == TokenUnused && t == fmt.Sprintf("[PAD%d]", i) {
			continue
		}
		seen[t] = true
		o = append(o, kv{t, i})
	}
	return o
}

func spmDecoder(strip bool) any {
	steps := []any{
		obj{{"type", "Replace"}, {"pattern", obj{{"String", "\u2581"}}}, {"content", " "}},
		obj{{"type", "ByteFallback"}},
		obj{{"type", "Fuse"}},
	}
	if strip {
		steps = append(steps, obj{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}})
	}
	return obj{{"type", "Sequence"}, {"decoders", steps}}
}

// spmMerges derives BPE merges from SentencePiece scores as transformers'
// SentencePieceExtractor does: every split of a piece into two pieces is a
// merge, ranked by the merged piece's score (best first), then by the ids of
// the two parts.
func spmMerges(v *Vocab) [][2]string {
	ok := func(i int32) bool {
		t := v.Types[i]
		return t == TokenNormal || t == TokenUserDefined
	}
	ids := map[string]int32{}
	for i := len(v.Tokens) - 1; i >= 0; i-- {
		if ok(int32(i)) {
			ids[v.Tokens[i]] = int32(i)
		}
	}
	type merge struct {
		a, b   string
		ia, ib int32
		score  float32
		id     int32
	}
	var ms []merge
	for i, t := range v.Tokens {
		if !ok(int32(i)) {
			continue
		}
		for j := range t {
			if j == 0 {
				continue
			}
			ia, okA := ids[t[:j]]
			ib, okB := ids[t[j:]]
			if okA && okB {
				var s float32
				if v.Scores != nil {
					s = v.Scores[i]
				}
				ms = append(ms, merge{t[:j], t[j:], ia, ib, s, int32(i)})
			}
		}
	}
	sort.SliceStable(ms, func(x, y int) bool {
		if ms[x].score != ms[y].score {
			return ms[x].score > ms[y].score
		}
		if ms[x].id != ms[y].id {
			return ms[x].id < ms[y].id
		}
		if ms[x].ia != ms[y].ia {
			return ms[x].ia < ms[y].ia
		}
		return ms[x].ib < ms[y].ib
	})
	out := make([][2]string, len(ms))
	for i, m := range ms {
		out[i] = [2]string{m.a, m.b}
	}
	return out
}

// postProcessor adds BOS/EOS as the add_*_token flags say (llama.cpp adds
// BOS by default for llama vocabularies when the flag is absent).
func postProcessor(v *Vocab) any {
	if v.Model == ModelBert {
		return bertPostProcessor(v)
	}
	addBOS := v.AddBOS != nil && *v.AddBOS || v.AddBOS == nil && v.Model == ModelLlama
	addEOS := v.AddEOS != nil && *v.AddEOS
	if addBOS && v.BOS == NoToken {
		addBOS = false
	}
	if addEOS && v.EOS == NoToken {
		addEOS = false
	}
	if !addBOS && !addEOS {
		if v.Model == ModelGPT2 {
			return obj{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}
		}
		return nil
	}
	spec := func(id int32, typeID int) any {
		return obj{{"SpecialToken", obj{{"id", v.Tokens[id]}, {"type_id", typeID}}}}
	}
	seq := func(s string, typeID int) any { return obj{{"Sequence", obj{{"id", s}, {"type_id", typeID}}}} }
	var single, pair []any
	specials := obj{}
	if addBOS {
		single = append(single, spec(v.BOS, 0))
		pair = append(pair, spec(v.BOS, 0))
		specials = append(specials, kv{v.Tokens[v.BOS], obj{{"id", v.Tokens[v.BOS]}, {"ids", []int32{v.BOS}}, {"tokens", []string{v.Tokens[v.BOS]}}}})
	}
	single = append(single, seq("A", 0))
	pair = append(pair, seq("A", 0))
	if addEOS {
		single = append(single, spec(v.EOS, 0))
		pair = append(pair, spec(v.EOS, 0))
		if !addBOS || v.EOS != v.BOS {
			specials = append(specials, kv{v.Tokens[v.EOS], obj{{"id", v.Tokens[v.EOS]}, {"ids", []int32{v.EOS}}, {"tokens", []string{v.Tokens[v.EOS]}}}})
		}
	}
	if addBOS {
		pair = append(pair, spec(v.BOS, 1))
	}
	pair = append(pair, seq("B", 1))
	if addEOS {
		pair = append(pair, spec(v.EOS, 1))
	}
	return obj{{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}}
}

// bertPostProcessor is BERT's [CLS] $A [SEP] (llama.cpp adds BOS = CLS and
// SEP for WPM vocabularies).
func bertPostProcessor(v *Vocab) any {
	cls, sep := v.CLS, v.SEP
	if cls == NoToken {
		cls = v.BOS
	}
	if sep == NoToken {
		sep = v.EOS
	}
	if cls == NoToken || sep == NoToken {
		return nil
	}
	return obj{{"type", "TemplateProcessing"},
		{"single", []any{
			obj{{"SpecialToken", obj{{"id", v.Tokens[cls]}, {"type_id", 0}}}},
			obj{{"Sequence", obj{{"id", "A"}, {"type_id", 0}}}},
			obj{{"SpecialToken", obj{{"id", v.Tokens[sep]}, {"type_id", 0}}}}}},
		{"pair", []any{
			obj{{"SpecialToken", obj{{"id", v.Tokens[cls]}, {"type_id", 0}}}},
			obj{{"Sequence", obj{{"id", "A"}, {"type_id", 0}}}},
			obj{{"SpecialToken", obj{{"id", v.Tokens[sep]}, {"type_id", 0}}}},
			obj{{"Sequence", obj{{"id", "B"}, {"type_id", 1}}}},
			obj{{"SpecialToken", obj{{"id", v.Tokens[sep]}, {"type_id", 1}}}}}},
		{"special_tokens", obj{
			{v.Tokens[cls], obj{{"id", v.Tokens[cls]}, {"ids", []int32{cls}}, {"tokens", []string{v.Tokens[cls]}}}},
			{v.Tokens[sep], obj{{"id", v.Tokens[sep]}, {"ids", []int32{sep}}, {"tokens", []string{v.Tokens[sep]}}}}}}}
}
