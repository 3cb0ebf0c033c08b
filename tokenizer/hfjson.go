package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
)

// maxJSONFile caps tokenizer.json and the config files; the largest real
// tokenizer.json files are a few tens of MB.
const maxJSONFile = 512 << 20

// maxVocab caps the number of tokens a vocabulary may declare (the largest
// real vocabularies have about a million).
const maxVocab = 1 << 22

// maxHoles caps how far the ids of tokenizer.json may run past its number
// of tokens, so a tiny hostile file cannot make us allocate millions of
// filler tokens.
const maxHoles = 1 << 16

// AddedToken is one entry of tokenizer.json's added_tokens (or of
// tokenizer_config.json's added_tokens_decoder).
type AddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// HFModel is tokenizer.json's "model".
type HFModel struct {
	Type                    string
	Vocab                   map[string]int32 // BPE, WordPiece
	Unigram                 []UnigramPiece   // Unigram, in id order
	Merges                  [][2]string      // BPE merges, either form
	UnkToken                string
	UnkID                   int32 // Unigram; NoToken when null
	ByteFallback            bool
	IgnoreMerges            bool
	FuseUnk                 bool
	ContinuingSubwordPrefix string
	EndOfWordSuffix         string
	MaxInputCharsPerWord    int
}

// UnigramPiece is one [piece, score] entry of a Unigram vocab.
type UnigramPiece struct {
	Piece string
	Score float64
}

// HFTokenizer is a parsed tokenizer.json. The normalizer, pre-tokenizer,
// post-processor and decoder definitions are kept as raw JSON.
type HFTokenizer struct {
	Model         HFModel
	AddedTokens   []AddedToken
	Normalizer    json.RawMessage
	PreTokenizer  json.RawMessage
	PostProcessor json.RawMessage
	Decoder       json.RawMessage
}

// VocabSize returns one more than the largest id in the model vocab and the
// added tokens.
func (t *HFTokenizer) VocabSize() int {
	n := len(t.Model.Unigram)
	for _, id := range t.Model.Vocab {
		if int(id)+1 > n {
			n = int(id) + 1
		}
	}
	for _, a := range t.AddedTokens {
		if int(a.ID)+1 > n {
			n = int(a.ID) + 1
		}
	}
	return n
}

// readJSONFile reads a small JSON file with a size cap. It returns
// fs.ErrNotExist (wrapped) when the file is missing.
func readJSONFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tokenizer: %s: not a regular file: %w", path, ErrCorrupt)
	}
	if fi.Size() > maxJSONFile {
		return nil, fmt.Errorf("tokenizer: %s: %d bytes is too large: %w", path, fi.Size(), ErrCorrupt)
	}
	return os.ReadFile(path)
}

// ReadTokenizerJSONFile reads a tokenizer.json file.
func ReadTokenizerJSONFile(path string) (*HFTokenizer, error) {
	b, err := readJSONFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		return nil, err
	}
	t, err := ParseTokenizerJSON(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ParseTokenizerJSON parses the contents of a tokenizer.json file.
func ParseTokenizerJSON(b []byte) (*HFTokenizer, error) {
	var raw struct {
		AddedTokens   []AddedToken    `json:"added_tokens"`
		Normalizer    json.RawMessage `json:"normalizer"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		PostProcessor json.RawMessage `json:"post_processor"`
		Decoder       json.RawMessage `json:"decoder"`
		Model         json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v: %w", err, ErrCorrupt)
	}
	if isNull(raw.Model) {
		return nil, fmt.Errorf("no \"model\": %w", ErrCorrupt)
	}
	t := &HFTokenizer{AddedTokens: raw.AddedTokens, Normalizer: nullToNil(raw.Normalizer),
		PreTokenizer: nullToNil(raw.PreTokenizer), PostProcessor: nullToNil(raw.PostProcessor), Decoder: nullToNil(raw.Decoder)}
	m, err := parseHFModel(raw.Model)
	if err != nil {
		return nil, err
	}
	t.Model = *m
	if len(t.AddedTokens) > maxVocab {
		return nil, fmt.Errorf("%d added tokens: %w", len(t.AddedTokens), ErrCorrupt)
	}
	for _, a := range t.AddedTokens {
		if a.ID < 0 || a.ID >= maxVocab {
			return nil, fmt.Errorf("added token %q has id %d: %w", a.Content, a.ID, ErrCorrupt)
		}
	}
	if n, entries := t.VocabSize(), len(t.Model.Vocab)+len(t.Model.Unigram)+len(t.AddedTokens); n > entries+maxHoles {
		return nil, fmt.Errorf("ids run to %d for %d tokens: %w", n-1, entries, ErrCorrupt)
	}
	return t, nil
}

func isNull(m json.RawMessage) bool {
	return len(bytes.TrimSpace(m)) == 0 || string(bytes.TrimSpace(m)) == "null"
}

func nullToNil(m json.RawMessage) json.RawMessage {
	if isNull(m) {
		return nil
	}
	return m
}

func parseHFModel(b json.RawMessage) (*HFModel, error) {
	var raw struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		UnkID                   *int32          `json:"unk_id"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		FuseUnk                 bool            `json:"fuse_unk"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		MaxInputCharsPerWord    int             `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("model: %v: %w", err, ErrCorrupt)
	}
	m := &HFModel{Type: raw.Type, ByteFallback: raw.ByteFallback, IgnoreMerges: raw.IgnoreMerges, FuseUnk: raw.FuseUnk,
		MaxInputCharsPerWord: raw.MaxInputCharsPerWord, UnkID: NoToken}
	if raw.UnkToken != nil {
		m.UnkToken = *raw.UnkToken
	}
	if raw.ContinuingSubwordPrefix != nil {
		m.ContinuingSubwordPrefix = *raw.ContinuingSubwordPrefix
	}
	if raw.EndOfWordSuffix != nil {
		m.EndOfWordSuffix = *raw.EndOfWordSuffix
	}
	if m.Type == "" {
		// Old files omit the type: tell BPE from WordPiece by the merges.
		switch {
		case !isNull(raw.Merges):
			m.Type = "BPE"
		case bytes.HasPrefix(bytes.TrimSpace(raw.Vocab), []byte("[")):
			m.Type = "Unigram"
		default:
			m.Type = "WordPiece"
		}
	}
	switch m.Type {
	case "BPE", "WordPiece", "WordLevel":
		if err := json.Unmarshal(raw.Vocab, &m.Vocab); err != nil {
			return nil, fmt.Errorf("model.vocab: %v: %w", err, ErrCorrupt)
		}
		if len(m.Vocab) == 0 {
			return nil, fmt.Errorf("model.vocab is empty: %w", ErrCorrupt)
		}
		for tok, id := range m.Vocab {
			if id < 0 || id >= maxVocab {
				return nil, fmt.Errorf("model.vocab: token %q has id %d: %w", tok, id, ErrCorrupt)
			}
		}
		if m.Type == "BPE" && !isNull(raw.Merges) {
			merges, err := parseMerges(raw.Merges)
			if err != nil {
				return nil, err
			}
			m.Merges = merges
		}
	case "Unigram":
		var pieces [][2]json.RawMessage
		if err := json.Unmarshal(raw.Vocab, &pieces); err != nil {
			return nil, fmt.Errorf("model.vocab: %v: %w", err, ErrCorrupt)
		}
		if len(pieces) == 0 {
			return nil, fmt.Errorf("model.vocab is empty: %w", ErrCorrupt)
		}
		m.Unigram = make([]UnigramPiece, len(pieces))
		for i, p := range pieces {
			if err := json.Unmarshal(p[0], &m.Unigram[i].Piece); err != nil {
				return nil, fmt.Errorf("model.vocab[%d]: %v: %w", i, err, ErrCorrupt)
			}
			if err := json.Unmarshal(p[1], &m.Unigram[i].Score); err != nil {
				return nil, fmt.Errorf("model.vocab[%d]: %v: %w", i, err, ErrCorrupt)
			}
		}
		if raw.UnkID != nil {
			if *raw.UnkID < 0 || int(*raw.UnkID) >= len(m.Unigram) {
				return nil, fmt.Errorf("model.unk_id %d outside the %d pieces: %w", *raw.UnkID, len(m.Unigram), ErrCorrupt)
			}
			m.UnkID = *raw.UnkID
		}
	default:
		return nil, fmt.Errorf("model type %q: %w", m.Type, ErrUnsupported)
	}
	return m, nil
}

// parseMerges accepts both merge forms: "a b" strings and ["a", "b"] pairs
// (transformers >= 4.45, which allows spaces inside a part).
func parseMerges(b json.RawMessage) ([][2]string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("model.merges: %v: %w", err, ErrCorrupt)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '"' {
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, fmt.Errorf("model.merges[%d]: %v: %w", i, err, ErrCorrupt)
			}
			// Split on the first space after the first character, as llama.cpp does.
			j := -1
			if len(s) > 1 {
				if k := strings.IndexByte(s[1:], ' '); k >= 0 {
					j = k + 1
				}
			}
			if j < 0 {
				return nil, fmt.Errorf("model.merges[%d] %q has no space: %w", i, s, ErrCorrupt)
			}
			out[i] = [2]string{s[:j], s[j+1:]}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]: %w", i, ErrCorrupt)
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

// TokenizerConfig is what this package reads from tokenizer_config.json.
type TokenizerConfig struct {
	// Special token strings by kind (bos, eos, unk, sep, pad, cls, mask, eot,
	// eom): either a plain string or the content of an AddedToken object.
	Tokens map[string]string
	// add_bos_token etc. by kind, when present as booleans.
	Add map[string]bool
	// ChatTemplates: a string becomes one unnamed template.
	ChatTemplates []ChatTemplate
	// AddedTokensDecoder by id.
	AddedTokensDecoder map[int32]AddedToken
	// Raw keeps every top-level key.
	Raw map[string]json.RawMessage
}

var specialKinds = []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom"}

// ParseTokenizerConfig parses tokenizer_config.json (special_tokens_map.json
// has the same token fields and parses with it too).
func ParseTokenizerConfig(b []byte) (*TokenizerConfig, error) {
	c := &TokenizerConfig{Tokens: map[string]string{}, Add: map[string]bool{}, AddedTokensDecoder: map[int32]AddedToken{}}
	if err := json.Unmarshal(b, &c.Raw); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v: %w", err, ErrCorrupt)
	}
	for _, k := range specialKinds {
		if s, ok := tokenString(c.Raw[k+"_token"]); ok {
			c.Tokens[k] = s
		}
		var add bool
		if r, ok := c.Raw["add_"+k+"_token"]; ok && json.Unmarshal(r, &add) == nil {
			c.Add[k] = add
		}
	}
	if r, ok := c.Raw["chat_template"]; ok && !isNull(r) {
		ts, err := parseChatTemplate(r)
		if err != nil {
			return nil, err
		}
		c.ChatTemplates = ts
	}
	if r, ok := c.Raw["added_tokens_decoder"]; ok && !isNull(r) {
		var m map[string]AddedToken
		if err := json.Unmarshal(r, &m); err != nil {
			return nil, fmt.Errorf("added_tokens_decoder: %v: %w", err, ErrCorrupt)
		}
		for k, a := range m {
			id, err := strconv.ParseInt(k, 10, 32)
			if err != nil || id < 0 || id >= maxVocab {
				return nil, fmt.Errorf("added_tokens_decoder: id %q: %w", k, ErrCorrupt)
			}
			a.ID = int32(id)
			c.AddedTokensDecoder[int32(id)] = a
		}
	}
	return c, nil
}

// tokenString reads a special token given as a string or an AddedToken
// object; null and other shapes are "not given".
func tokenString(r json.RawMessage) (string, bool) {
	if isNull(r) {
		return "", false
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, true
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if json.Unmarshal(r, &obj) == nil && obj.Content != nil {
		return *obj.Content, true
	}
	return "", false
}

func parseChatTemplate(r json.RawMessage) ([]ChatTemplate, error) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return []ChatTemplate{{Template: s}}, nil
	}
	var list []struct {
		Name     string  `json:"name"`
		Template *string `json:"template"`
	}
	if err := json.Unmarshal(r, &list); err != nil {
		return nil, fmt.Errorf("chat_template is neither a string nor a list of {name, template}: %w", ErrCorrupt)
	}
	var out []ChatTemplate
	for _, t := range list {
		if t.Template != nil {
			out = append(out, ChatTemplate{Name: t.Name, Template: *t.Template})
		}
	}
	return out, nil
}

// idList reads an id given as a number or a list of numbers (eos_token_id in
// config.json and generation_config.json).
func idList(r json.RawMessage) ([]int32, bool) {
	if isNull(r) {
		return nil, false
	}
	var f float64
	if json.Unmarshal(r, &f) == nil {
		if f != math.Trunc(f) || f < 0 || f >= maxVocab {
			return nil, false
		}
		return []int32{int32(f)}, true
	}
	var fs []float64
	if json.Unmarshal(r, &fs) == nil {
		var out []int32
		for _, f := range fs {
			if f != math.Trunc(f) || f < 0 || f >= maxVocab {
				return nil, false
			}
			out = append(out, int32(f))
		}
		return out, true
	}
	return nil, false
}
