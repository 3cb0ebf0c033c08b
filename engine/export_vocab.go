package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"mlmf/tokenizer"
)

// vocabAdjust is what an architecture's set_vocab in convert_hf_to_gguf.py
// does on top of the shared vocabulary code, by GGUF architecture.
var vocabAdjust = map[string]func(dir string, h *hparams, v *tokenizer.Vocab) error{
	// Gemma2Model.set_vocab: SentencePiece, then add_space_prefix=false.
	"gemma2": func(_ string, _ *hparams, v *tokenizer.Vocab) error {
		no := false
		v.AddSpacePrefix = &no
		return nil
	},
	"phi3": phi3Vocab,
}

// phi3Vocab is Phi3MiniModel.set_vocab for a SentencePiece model: the
// vocabulary is padded to the config's vocab_size with [PADi] tokens, and
// every added token (tokenizer_config.json's added_tokens_decoder, then
// tokenizer.json's added_tokens) gets score -1000 and the type
// USER_DEFINED, or CONTROL when special. A GPT2Tokenizer (Phi-4) takes the
// shared byte-level BPE path unchanged.
func phi3Vocab(dir string, h *hparams, v *tokenizer.Vocab) error {
	var tc struct {
		Class   string `json:"tokenizer_class"`
		Decoder map[string]struct {
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens_decoder"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if tc.Class == "GPT2Tokenizer" {
			return nil
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.model")); err != nil {
		return fmt.Errorf("Phi-3's converter reads tokenizer.model, which %s lacks: %w", dir, ErrExportUnsupported)
	}
	if vs, _ := h.find("vocab_size"); vs != nil {
		n, err := h.u32("vocab_size", vs)
		if err != nil {
			return err
		}
		for i := len(v.Tokens); i < int(n); i++ {
			v.Tokens = append(v.Tokens, "[PAD"+strconv.Itoa(i)+"]")
			v.Types = append(v.Types, tokenizer.TokenUnused)
			if v.Scores != nil {
				v.Scores = append(v.Scores, -10000)
			}
		}
	}
	set := func(id int, content string, special bool) {
		if id < 0 || id >= len(v.Tokens) {
			return
		}
		v.Tokens[id] = content
		if v.Scores != nil {
			v.Scores[id] = -1000
		}
		v.Types[id] = tokenizer.TokenUserDefined
		if special {
			v.Types[id] = tokenizer.TokenControl
		}
	}
	ids := make([]int, 0, len(tc.Decoder))
	for k := range tc.Decoder {
		id, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("tokenizer_config.json: added token id %q: %w", k, err)
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		d := tc.Decoder[strconv.Itoa(id)]
		set(id, d.Content, d.Special)
	}
	var tj struct {
		Added []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err == nil {
		if err := json.Unmarshal(b, &tj); err != nil {
			return fmt.Errorf("tokenizer.json: %w", err)
		}
	}
	for _, a := range tj.Added {
		set(a.ID, a.Content, a.Special)
	}
	return nil
}
