// Package tokenizer reads the tokenizers of Hugging Face checkpoints
// (SentencePiece tokenizer.model, tokenizer.json, tokenizer_config.json and
// friends) into a Vocab that holds what llama.cpp's GGUF needs, with the same
// meaning convert_hf_to_gguf.py and gguf-py's SpecialVocab give each field;
// rebuilds tokenizer.json from a Vocab; and encodes text with a Vocab the way
// llama.cpp does, so ids can be compared with the reference tokenizers.
package tokenizer

import (
	"fmt"
	"sort"
	"strings"
)

// TokenType is llama.cpp's token type (gguf.TokenType), stored in
// tokenizer.ggml.token_type.
type TokenType int32

// Token types. The numbering is the one SentencePiece uses.
const (
	TokenNormal      TokenType = 1
	TokenUnknown     TokenType = 2
	TokenControl     TokenType = 3
	TokenUserDefined TokenType = 4
	TokenUnused      TokenType = 5
	TokenByte        TokenType = 6
)

func (t TokenType) String() string {
	switch t {
	case TokenNormal:
		return "NORMAL"
	case TokenUnknown:
		return "UNKNOWN"
	case TokenControl:
		return "CONTROL"
	case TokenUserDefined:
		return "USER_DEFINED"
	case TokenUnused:
		return "UNUSED"
	case TokenByte:
		return "BYTE"
	}
	return fmt.Sprintf("TokenType(%d)", int32(t))
}

// Model names written to tokenizer.ggml.model.
const (
	ModelLlama = "llama" // SentencePiece-style (scores, byte fallback)
	ModelGPT2  = "gpt2"  // byte-level BPE with merges
	ModelBert  = "bert"  // WordPiece, phantom-space form
	ModelT5    = "t5"    // SentencePiece unigram
)

// NoToken marks an unset special token id.
const NoToken int32 = -1

// ChatTemplate is one named chat template; the unnamed (or "default") one is
// written as tokenizer.chat_template.
type ChatTemplate struct {
	Name     string
	Template string
}

// Vocab is a tokenizer vocabulary as GGUF stores it.
type Vocab struct {
	Model  string      // tokenizer.ggml.model
	Pre    string      // tokenizer.ggml.pre ("" = not written)
	Tokens []string    // tokenizer.ggml.tokens
	Scores []float32   // tokenizer.ggml.scores (nil = not written)
	Types  []TokenType // tokenizer.ggml.token_type
	Merges []string    // tokenizer.ggml.merges, "a b" with spaces inside parts as U+0120

	// Special token ids; NoToken when unset.
	BOS, EOS, UNK, SEP, PAD, CLS, MASK, EOT, EOM int32

	// add_bos/add_eos/add_sep: nil when the source does not say.
	AddBOS, AddEOS, AddSEP *bool

	// SentencePiece normalizer settings, written for unigram (t5) models and
	// used by the encoder; AddSpacePrefix is nil when not written.
	AddSpacePrefix         *bool
	RemoveExtraWhitespaces *bool
	PrecompiledCharsmap    []byte

	// NormLowercase and NormStripAccents are the tokenizer.json normalizer's
	// Lowercase / StripAccents / BertNormalizer flags as gguf-py's
	// SpecialVocab reads them (tokenizer.ggml.normalizer.*); nil when the
	// source does not say. llama.cpp's WordPiece tokenizer obeys them.
	NormLowercase, NormStripAccents *bool

	// TokenTypeCount is tokenizer.ggml.token_type_count (BERT segment types);
	// 0 = not written.
	TokenTypeCount uint32

	// ChatTemplates holds the chat template(s) from tokenizer_config.json or
	// chat_template.jinja/json, in file order.
	ChatTemplates []ChatTemplate

	// Information kept from the source that GGUF has no key for.

	// PreRegex holds the split regexes of the byte-level pre-tokenizer the
	// Pre name was derived from (for tokenizer.json exports and the encoder).
	PreRegex []string
	// GenerationEOS lists the eos ids of generation_config.json.
	GenerationEOS []int32
	// Normalizer is the tokenizer.json normalizer type chain, e.g. "NFC".
	Normalizer string
	// Source names the file(s) the vocabulary came from.
	Source string

	// implied holds special ids taken from a SentencePiece trainer_spec
	// that llama.cpp would use without the key (see llamaCppDefaultIs);
	// KVs leaves them out while they keep that value, as the converter
	// writes none.
	implied map[string]int32
}

// KV is one GGUF key/value pair. Value is string, []string, []float32,
// []int32, []uint8, uint32 or bool.
type KV struct {
	Key   string
	Value any
}

// GGUF keys under tokenizer.
const (
	KeyModel          = "tokenizer.ggml.model"
	KeyPre            = "tokenizer.ggml.pre"
	KeyTokens         = "tokenizer.ggml.tokens"
	KeyScores         = "tokenizer.ggml.scores"
	KeyTokenType      = "tokenizer.ggml.token_type"
	KeyTokenTypeCount = "tokenizer.ggml.token_type_count"
	KeyMerges         = "tokenizer.ggml.merges"
	KeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	KeyRemoveExtraWS  = "tokenizer.ggml.remove_extra_whitespaces"
	KeyCharsmap       = "tokenizer.ggml.precompiled_charsmap"
	KeyBOS            = "tokenizer.ggml.bos_token_id"
	KeyEOS            = "tokenizer.ggml.eos_token_id"
	KeyEOT            = "tokenizer.ggml.eot_token_id"
	KeyEOM            = "tokenizer.ggml.eom_token_id"
	KeyUNK            = "tokenizer.ggml.unknown_token_id"
	KeySEP            = "tokenizer.ggml.seperator_token_id" // sic, as in gguf-py
	KeyPAD            = "tokenizer.ggml.padding_token_id"
	KeyMASK           = "tokenizer.ggml.mask_token_id"
	KeyAddBOS         = "tokenizer.ggml.add_bos_token"
	KeyAddEOS         = "tokenizer.ggml.add_eos_token"
	KeyAddSEP         = "tokenizer.ggml.add_sep_token"
	KeyNormLowercase  = "tokenizer.ggml.normalizer.lowercase"
	KeyNormStrip      = "tokenizer.ggml.normalizer.strip_accents"
	KeyChatTemplate   = "tokenizer.chat_template"
	KeyChatTemplates  = "tokenizer.chat_templates"
)

// newVocab returns a Vocab with every special id unset.
func newVocab(model string) *Vocab {
	return &Vocab{Model: model, BOS: NoToken, EOS: NoToken, UNK: NoToken, SEP: NoToken, PAD: NoToken,
		CLS: NoToken, MASK: NoToken, EOT: NoToken, EOM: NoToken}
}

// specialField pairs a special token kind with its id field.
type specialField struct {
	typ string // bos, eos, ... as SpecialVocab names them
	key string // GGUF key; "" when gguf-py has no handler (cls)
	id  *int32
}

// specials lists the special tokens in SpecialVocab's default order.
func (v *Vocab) specials() []specialField {
	return []specialField{
		{"bos", KeyBOS, &v.BOS}, {"eos", KeyEOS, &v.EOS}, {"unk", KeyUNK, &v.UNK},
		{"sep", KeySEP, &v.SEP}, {"pad", KeyPAD, &v.PAD}, {"cls", "", &v.CLS},
		{"mask", KeyMASK, &v.MASK}, {"eot", KeyEOT, &v.EOT}, {"eom", KeyEOM, &v.EOM},
	}
}

// Validate checks that the arrays agree in length and every special token id
// is inside the vocabulary.
func (v *Vocab) Validate() error {
	n := len(v.Tokens)
	if n == 0 {
		return fmt.Errorf("tokenizer: empty vocabulary: %w", ErrCorrupt)
	}
	if len(v.Types) != n {
		return fmt.Errorf("tokenizer: %d token types for %d tokens: %w", len(v.Types), n, ErrCorrupt)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return fmt.Errorf("tokenizer: %d scores for %d tokens: %w", len(v.Scores), n, ErrCorrupt)
	}
	for _, s := range v.specials() {
		if *s.id != NoToken && (*s.id < 0 || int(*s.id) >= n) {
			return fmt.Errorf("tokenizer: %s token id %d is outside the vocabulary of %d tokens: %w", s.typ, *s.id, n, ErrSpecialToken)
		}
	}
	return nil
}

// KVs returns the tokenizer keys in the order convert_hf_to_gguf.py writes
// them: model, pre, tokens, scores, token types, model options, merges,
// special token ids, add_*_token flags, chat templates.
func (v *Vocab) KVs() []KV {
	var kvs []KV
	add := func(k string, val any) { kvs = append(kvs, KV{k, val}) }
	add(KeyModel, v.Model)
	if v.Pre != "" {
		add(KeyPre, v.Pre)
	}
	add(KeyTokens, append([]string(nil), v.Tokens...))
	if v.Scores != nil {
		add(KeyScores, append([]float32(nil), v.Scores...))
	}
	types := make([]int32, len(v.Types))
	for i, t := range v.Types {
		types[i] = int32(t)
	}
	add(KeyTokenType, types)
	if v.TokenTypeCount != 0 {
		add(KeyTokenTypeCount, v.TokenTypeCount)
	}
	if v.AddSpacePrefix != nil {
		add(KeyAddSpacePrefix, *v.AddSpacePrefix)
	}
	if v.RemoveExtraWhitespaces != nil {
		add(KeyRemoveExtraWS, *v.RemoveExtraWhitespaces)
	}
	if len(v.PrecompiledCharsmap) > 0 {
		add(KeyCharsmap, append([]uint8(nil), v.PrecompiledCharsmap...))
	}
	if len(v.Merges) > 0 {
		add(KeyMerges, append([]string(nil), v.Merges...))
	}
	for _, s := range v.specials() {
		if id, ok := v.implied[s.typ]; ok && id == *s.id {
			continue
		}
		if s.key != "" && *s.id >= 0 {
			add(s.key, uint32(*s.id))
		}
	}
	if v.AddBOS != nil {
		add(KeyAddBOS, *v.AddBOS)
	}
	if v.AddEOS != nil {
		add(KeyAddEOS, *v.AddEOS)
	}
	if v.AddSEP != nil {
		add(KeyAddSEP, *v.AddSEP)
	}
	kvs = append(kvs, chatTemplateKVs(v.ChatTemplates)...)
	if v.NormLowercase != nil {
		add(KeyNormLowercase, *v.NormLowercase)
	}
	if v.NormStripAccents != nil {
		add(KeyNormStrip, *v.NormStripAccents)
	}
	return kvs
}

// chatTemplateKVs follows gguf-py's GGUFWriter.add_chat_template: a single
// unnamed template is tokenizer.chat_template; named ones become
// tokenizer.chat_template.NAME (name reduced to [A-Za-z0-9_]) plus the list
// tokenizer.chat_templates, with "default" as tokenizer.chat_template. gguf-py
// collects the names in a set; we sort them so output is deterministic.
func chatTemplateKVs(ts []ChatTemplate) []KV {
	if len(ts) == 0 {
		return nil
	}
	if len(ts) == 1 && ts[0].Name == "" {
		return []KV{{KeyChatTemplate, ts[0].Template}}
	}
	var kvs []KV
	var def *string
	seen := map[string]bool{}
	var names []string
	for i := range ts {
		name := sanitizeTemplateName(ts[i].Name)
		if name == "" {
			continue
		}
		if name == "default" {
			def = &ts[i].Template
			continue
		}
		kvs = append(kvs, KV{KeyChatTemplate + "." + name, ts[i].Template})
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		kvs = append(kvs, KV{KeyChatTemplates, names})
	}
	if def != nil {
		kvs = append(kvs, KV{KeyChatTemplate, *def})
	}
	return kvs
}

func sanitizeTemplateName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// TokenID returns the id of a token text, or NoToken.
func (v *Vocab) TokenID(text string) int32 {
	for i, t := range v.Tokens {
		if t == text {
			return int32(i)
		}
	}
	return NoToken
}

func boolp(b bool) *bool { return &b }

func (v *Vocab) setImplied(typ string, id int32) {
	if v.implied == nil {
		v.implied = map[string]int32{}
	}
	v.implied[typ] = id
}

// llamaCppDefaults are the special ids llama.cpp assumes for a vocabulary
// without the typ_token_id key (llama_vocab::impl::load, by
// tokenizer.ggml.model; an id outside the vocabulary is disabled).
var llamaCppDefaults = map[string]map[string]int32{
	ModelLlama: {"bos": 1, "eos": 2, "unk": 0},
	ModelT5:    {"eos": 1, "unk": 2, "pad": 0},
}

// llamaCppDefaultIs reports whether llama.cpp, reading a vocabulary of the
// given tokenizer model without the typ_token_id key, behaves as with id:
// id is its default (llamaCppDefaults). The unk id of a "llama" (SPM)
// vocabulary is never read — its tokenizer falls back to byte tokens, and
// llama.h has no accessor for it — so any value is the same.
func llamaCppDefaultIs(model, typ string, id int32) bool {
	if model == ModelLlama && typ == "unk" {
		return true
	}
	d, ok := llamaCppDefaults[model][typ]
	return ok && d == id
}

// applyLlamaCppDefaults sets the special ids a GGUF leaves out to the ones
// llama.cpp uses then, marked implied so that KVs leaves them out again.
func (v *Vocab) applyLlamaCppDefaults() {
	for _, s := range v.specials() {
		d, ok := llamaCppDefaults[v.Model][s.typ]
		if ok && *s.id == NoToken && int(d) < len(v.Tokens) {
			*s.id = d
			v.setImplied(s.typ, d)
		}
	}
}
