package tokenizer

import (
	"encoding/json"
	"fmt"
)

// NewHFEncoder returns an Encoder that follows the directory's tokenizer.json
// where transformers and llama.cpp part ways, so `mlmf tokenize` can show
// both sides. Today that is the Metaspace pre-tokenizer of SentencePiece-style
// BPE (transformers' LlamaTokenizerFast conversion): with prepend_scheme
// "first" the ▁ prefix goes only on text at the start of the input and never
// on text that already starts with a space, where llama.cpp (like
// sentencepiece) adds it after every special token and always. Byte-level
// BPE and directories without tokenizer.json encode as NewEncoder does.
func NewHFEncoder(d *Dir) (*Encoder, error) {
	v, err := d.Vocab()
	if err != nil {
		return nil, err
	}
	e, err := NewEncoder(v)
	if err != nil {
		return nil, err
	}
	if d.TokenizerJSON == nil || v.Model != ModelLlama {
		return e, nil
	}
	scheme, err := metaspaceScheme(d.TokenizerJSON.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s/tokenizer.json: %w", d.Path, err)
	}
	e.metaspace = scheme
	return e, nil
}

// metaspaceScheme finds a Metaspace step (alone or in a Sequence) and
// returns its prepend scheme; "" when there is none (the legacy form
// prepends with a normalizer, as llama.cpp does).
func metaspaceScheme(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var step struct {
		Type           string            `json:"type"`
		PrependScheme  string            `json:"prepend_scheme"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &step); err != nil {
		return "", fmt.Errorf("pre_tokenizer: %v: %w", err, ErrCorrupt)
	}
	switch step.Type {
	case "Metaspace":
		switch {
		case step.PrependScheme != "":
			return step.PrependScheme, nil
		case step.AddPrefixSpace != nil && !*step.AddPrefixSpace:
			return "never", nil
		}
		return "always", nil
	case "Sequence":
		for _, c := range step.Pretokenizers {
			var head struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(c, &head) == nil && head.Type == "Metaspace" {
				return metaspaceScheme(c)
			}
		}
	}
	return "", nil
}

// FirstDiff returns the index of the first position where two id sequences
// differ, or -1 when they are equal.
func FirstDiff(a, b []int32) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	if len(b) > len(a) {
		return len(a)
	}
	return -1
}
