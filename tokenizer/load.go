package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Dir holds the tokenizer files of a checkpoint directory, parsed.
type Dir struct {
	Path            string
	SentencePiece   *SPModel         // tokenizer.model
	TokenizerJSON   *HFTokenizer     // tokenizer.json
	Config          *TokenizerConfig // tokenizer_config.json
	SpecialTokens   *TokenizerConfig // special_tokens_map.json
	ModelConfig     map[string]json.RawMessage
	GenerationEOS   []int32
	AddedTokensJSON map[string]int32 // added_tokens.json
	ChatTemplateAlt []ChatTemplate   // chat_template.jinja / chat_template.json
}

// ReadDir parses the tokenizer files present in dir. Missing files are
// skipped; a file that is present but malformed is an error naming it.
func ReadDir(dir string) (*Dir, error) {
	d := &Dir{Path: dir}
	p := func(name string) string { return filepath.Join(dir, name) }
	exists := func(name string) bool { _, err := os.Stat(p(name)); return err == nil }

	if exists("tokenizer.model") {
		m, err := ReadSentencePieceFile(p("tokenizer.model"))
		if err != nil {
			return nil, err
		}
		d.SentencePiece = m
	}
	if exists("tokenizer.json") {
		t, err := ReadTokenizerJSONFile(p("tokenizer.json"))
		if err != nil {
			return nil, err
		}
		d.TokenizerJSON = t
	}
	readCfg := func(name string) (*TokenizerConfig, error) {
		b, err := readJSONFile(p(name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c, err := ParseTokenizerConfig(b)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", p(name), err)
		}
		return c, nil
	}
	var err error
	if d.Config, err = readCfg("tokenizer_config.json"); err != nil {
		return nil, err
	}
	if d.SpecialTokens, err = readCfg("special_tokens_map.json"); err != nil {
		return nil, err
	}
	readMap := func(name string, dst any) error {
		b, err := readJSONFile(p(name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return fmt.Errorf("tokenizer: %s: invalid JSON: %v: %w", p(name), err, ErrCorrupt)
		}
		return nil
	}
	if err := readMap("config.json", &d.ModelConfig); err != nil {
		return nil, err
	}
	var gen map[string]json.RawMessage
	if err := readMap("generation_config.json", &gen); err != nil {
		return nil, err
	}
	if ids, ok := idList(gen["eos_token_id"]); ok {
		d.GenerationEOS = ids
	}
	if err := readMap("added_tokens.json", &d.AddedTokensJSON); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(p("chat_template.jinja")); err == nil {
		d.ChatTemplateAlt = []ChatTemplate{{Template: string(b)}}
		extra, _ := filepath.Glob(filepath.Join(dir, "additional_chat_templates", "*.jinja"))
		if len(extra) > 0 {
			d.ChatTemplateAlt[0].Name = "default"
			for _, e := range extra {
				if b, err := os.ReadFile(e); err == nil {
					d.ChatTemplateAlt = append(d.ChatTemplateAlt, ChatTemplate{Name: strings.TrimSuffix(filepath.Base(e), ".jinja"), Template: string(b)})
				}
			}
		}
	} else {
		var ct map[string]json.RawMessage
		if err := readMap("chat_template.json", &ct); err != nil {
			return nil, err
		}
		if r, ok := ct["chat_template"]; ok && !isNull(r) {
			ts, err := parseChatTemplate(r)
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %s: %w", p("chat_template.json"), err)
			}
			d.ChatTemplateAlt = ts
		}
	}
	if d.SentencePiece == nil && d.TokenizerJSON == nil {
		return nil, fmt.Errorf("tokenizer: %s: neither tokenizer.model nor tokenizer.json: %w", dir, ErrNotFound)
	}
	return d, nil
}

// FromDir reads the tokenizer of a checkpoint directory into a Vocab, making
// the choices convert_hf_to_gguf.py makes.
func FromDir(dir string) (*Vocab, error) {
	d, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return d.Vocab()
}

// configVocabSize is config.json's vocab_size (or text_config.vocab_size), 0 if absent.
func (d *Dir) configVocabSize() int {
	get := func(m map[string]json.RawMessage) int {
		var n float64
		if r, ok := m["vocab_size"]; ok && json.Unmarshal(r, &n) == nil && n > 0 && n < maxVocab {
			return int(n)
		}
		return 0
	}
	if n := get(d.ModelConfig); n > 0 {
		return n
	}
	var tc map[string]json.RawMessage
	if r, ok := d.ModelConfig["text_config"]; ok && json.Unmarshal(r, &tc) == nil {
		return get(tc)
	}
	return 0
}

// Vocab builds the GGUF vocabulary. The order of preference is
// convert_hf_to_gguf.py's for LLaMA-family models: tokenizer.model
// (SentencePiece), then a byte-fallback BPE tokenizer.json (LlamaHfVocab),
// then byte-level BPE (gpt2); WordPiece becomes "bert" and Unigram "t5".
func (d *Dir) Vocab() (*Vocab, error) {
	var v *Vocab
	var err error
	t := d.TokenizerJSON
	switch {
	case d.SentencePiece == nil && t == nil:
		return nil, fmt.Errorf("tokenizer: %s: neither tokenizer.model nor tokenizer.json: %w", d.Path, ErrNotFound)
	case d.SentencePiece != nil:
		v, err = d.sentencePieceVocab()
	case t.Model.Type == "BPE" && t.Model.ByteFallback:
		v, err = d.llamaHFVocab()
	case t.Model.Type == "BPE":
		v, err = d.gpt2Vocab()
	case t.Model.Type == "WordPiece":
		v, err = d.bertVocab()
	case t.Model.Type == "Unigram":
		v, err = d.unigramJSONVocab()
	default:
		err = fmt.Errorf("tokenizer: %s: model type %q: %w", filepath.Join(d.Path, "tokenizer.json"), t.Model.Type, ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	v.GenerationEOS = d.GenerationEOS
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, d.Path)
	}
	return v, nil
}

// looksSpecial is convert_hf_to_gguf.py's does_token_look_special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") ||
		strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>") ||
		strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">")
}

// spmPieces is _create_vocab_sentencepiece: SentencePiece pieces padded to
// config vocab_size with [PAD{i}], then added_tokens.json and
// tokenizer_config.json's added_tokens_decoder on top.
func (d *Dir) spmPieces() (tokens []string, scores []float32, types []TokenType, err error) {
	m := d.SentencePiece
	n := d.configVocabSize()
	if n == 0 {
		n = len(m.Pieces)
	}
	if n > len(m.Pieces)+maxHoles {
		return nil, nil, nil, fmt.Errorf("tokenizer: %s: vocab_size %d is %d more than the %d pieces of tokenizer.model; check config.json: %w",
			filepath.Join(d.Path, "config.json"), n, n-len(m.Pieces), len(m.Pieces), ErrCorrupt)
	}
	tokens = make([]string, n)
	scores = make([]float32, n)
	types = make([]TokenType, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("[PAD%d]", i)
		scores[i] = -10000
		types[i] = TokenUnused
	}
	for i, p := range m.Pieces {
		if i >= n {
			break
		}
		tokens[i], scores[i] = p.Piece, p.Score
		switch p.Type {
		case TokenUnknown, TokenControl, TokenUnused, TokenByte:
			types[i] = p.Type
		default:
			types[i] = TokenNormal // USER_DEFINED pieces stay NORMAL, as in the converter
		}
	}
	for _, k := range sortedKeys(d.AddedTokensJSON) {
		id := d.AddedTokensJSON[k]
		if id < 0 || int(id) >= n {
			continue
		}
		tokens[id], scores[id], types[id] = k, -1000, TokenUserDefined
	}
	if d.Config != nil {
		ids := make([]int32, 0, len(d.Config.AddedTokensDecoder))
		for id := range d.Config.AddedTokensDecoder {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			if int(id) >= n {
				continue
			}
			a := d.Config.AddedTokensDecoder[id]
			tok := a.Content
			if a.Special || looksSpecial(tok) {
				types[id] = TokenControl
			} else {
				tok = strings.ReplaceAll(tok, "\u2581", " ")
				types[id] = TokenUserDefined
			}
			scores[id], tokens[id] = -1000, tok
		}
	}
	return tokens, scores, types, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (d *Dir) sentencePieceVocab() (*Vocab, error) {
	m := d.SentencePiece
	file := filepath.Join(d.Path, "tokenizer.model")
	var v *Vocab
	switch m.ModelType {
	case SPBPE:
		v = newVocab(ModelLlama)
	case SPUnigram:
		v = newVocab(ModelT5)
	default:
		return nil, fmt.Errorf("tokenizer: %s: SentencePiece model type %s: llama.cpp reads BPE and unigram models only: %w", file, m.ModelType, ErrUnsupported)
	}
	v.Pre = "default"
	v.Source = file
	var err error
	if v.Tokens, v.Scores, v.Types, err = d.spmPieces(); err != nil {
		return nil, err
	}
	if m.ModelType == SPBPE && !m.AddDummyPrefix {
		// llama.cpp adds the prefix space to SentencePiece input unless told
		// otherwise; the model says not to (Gemma's does), so tell it. The
		// converter leaves this to per-architecture code.
		v.AddSpacePrefix = boolp(false)
	}
	if m.ModelType == SPUnigram {
		v.AddSpacePrefix = boolp(m.AddDummyPrefix)
		v.RemoveExtraWhitespaces = boolp(m.RemoveExtraWhitespaces)
		v.PrecompiledCharsmap = m.PrecompiledCharsmap
	}
	if err := d.specialVocab(v, len(v.Tokens)); err != nil {
		return nil, err
	}
	// Without tokenizer.json, SpecialVocab finds no ids for the token
	// strings (only config.json's *_token_id), and the converter writes
	// none; llama.cpp then uses its per-model defaults. The model's own
	// trainer_spec ids are right by definition, so unset ids are taken from
	// there; KVs leaves out those that llama.cpp would use anyway, so the
	// file is the converter's unless the defaults would be wrong.
	for _, f := range []struct {
		typ  string
		id   *int32
		spID int32
	}{{"unk", &v.UNK, m.UnkID}, {"bos", &v.BOS, m.BosID}, {"eos", &v.EOS, m.EosID}, {"pad", &v.PAD, m.PadID}} {
		if *f.id == NoToken && f.spID >= 0 && int(f.spID) < len(v.Tokens) {
			*f.id = f.spID
			if llamaCppDefaultIs(v.Model, f.typ, f.spID) {
				v.setImplied(f.typ, f.spID)
			}
		}
	}
	if m.ModelType == SPUnigram {
		// T5Model.set_vocab writes these after SpecialVocab.
		v.AddBOS, v.AddEOS = boolp(false), boolp(true)
	}
	return v, nil
}

var byteTokenRE = regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)

// llamaHFVocab is gguf-py's LlamaHfVocab: a tokenizer.json BPE with byte
// fallback and no tokenizer.model. One deliberate difference: LlamaHfVocab
// scores every token -1000, which leaves llama.cpp's SentencePiece merge
// order to chance; we score a token by the rank of the merge that makes it
// (-rank), so llama.cpp merges in the order the BPE does.
func (d *Dir) llamaHFVocab() (*Vocab, error) {
	t := d.TokenizerJSON
	file := filepath.Join(d.Path, "tokenizer.json")
	v := newVocab(ModelLlama)
	v.Pre = "default"
	v.Source = file
	n := t.VocabSize()
	v.Tokens = make([]string, n)
	v.Scores = make([]float32, n)
	v.Types = make([]TokenType, n)
	have := make([]bool, n)
	for tok, id := range t.Model.Vocab {
		if have[id] {
			return nil, fmt.Errorf("tokenizer: %s: id %d used by %q and %q: %w", file, id, v.Tokens[id], tok, ErrCorrupt)
		}
		v.Tokens[id], have[id] = tok, true
	}
	rank := map[string]int{}
	for i, m := range t.Model.Merges {
		if _, ok := rank[m[0]+m[1]]; !ok {
			rank[m[0]+m[1]] = i
		}
	}
	special := map[int32]bool{}
	for _, a := range t.AddedTokens {
		if a.Special {
			special[a.ID] = true
		}
	}
	for i := range v.Tokens {
		if r, ok := rank[v.Tokens[i]]; ok {
			v.Scores[i] = -float32(r)
		} else {
			v.Scores[i] = -1000 - float32(len(t.Model.Merges))
		}
		switch {
		case byteTokenRE.MatchString(v.Tokens[i]):
			v.Types[i] = TokenByte
		case special[int32(i)]:
			v.Types[i] = TokenControl
		default:
			v.Types[i] = TokenNormal
		}
	}
	for _, a := range t.AddedTokens {
		if have[a.ID] {
			continue
		}
		have[a.ID] = true
		v.Tokens[a.ID] = a.Content
		v.Scores[a.ID] = -1000
		if a.Special {
			v.Types[a.ID] = TokenControl
		} else {
			v.Types[a.ID] = TokenUserDefined
		}
	}
	for i := range have {
		if !have[i] {
			return nil, fmt.Errorf("tokenizer: %s: no token has id %d: %w", file, i, ErrCorrupt)
		}
	}
	// The prefix space, from the definition: a Metaspace pre-tokenizer that
	// never prepends, or neither Metaspace nor a Prepend normalizer (Gemma's
	// form), means none; llama.cpp's default is to add one.
	scheme, err := metaspaceScheme(t.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", file, err)
	}
	if scheme == "never" || scheme == "" && !bytes.Contains(t.Normalizer, []byte(`"Prepend"`)) {
		v.AddSpacePrefix = boolp(false)
	}
	if err := d.specialVocab(v, len(v.Tokens)); err != nil {
		return nil, err
	}
	return v, nil
}

// baseVocab is convert_hf_to_gguf.py's get_vocab_base: the model vocab and
// the added tokens, padded to config vocab_size with [PAD{i}] (UNUSED);
// added tokens are CONTROL when special or special-looking, else
// USER_DEFINED with U+2581 turned back into spaces.
func (d *Dir) baseVocab(model string) (*Vocab, error) {
	t := d.TokenizerJSON
	file := filepath.Join(d.Path, "tokenizer.json")
	v := newVocab(model)
	v.Source = file
	rev := map[int32]string{}
	for tok, id := range t.Model.Vocab {
		if old, ok := rev[id]; ok {
			return nil, fmt.Errorf("tokenizer: %s: id %d used by %q and %q: %w", file, id, old, tok, ErrCorrupt)
		}
		rev[id] = tok
	}
	added := map[int32]AddedToken{}
	for _, a := range t.AddedTokens {
		added[a.ID] = a
		rev[a.ID] = a.Content
	}
	n := t.VocabSize()
	if c := d.configVocabSize(); c > 0 {
		if c < n {
			return nil, fmt.Errorf("tokenizer: %s: token id %d is past config.json vocab_size %d: %w", file, n-1, c, ErrCorrupt)
		}
		if c > n+maxHoles {
			return nil, fmt.Errorf("tokenizer: %s: vocab_size %d is %d more than the %d tokens of tokenizer.json: %w",
				filepath.Join(d.Path, "config.json"), c, c-n, n, ErrCorrupt)
		}
		n = c
	}
	v.Tokens = make([]string, n)
	v.Types = make([]TokenType, n)
	for i := 0; i < n; i++ {
		tok, ok := rev[int32(i)]
		if !ok {
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), TokenUnused
			continue
		}
		if a, isAdded := added[int32(i)]; isAdded {
			if a.Special || looksSpecial(tok) {
				v.Types[i] = TokenControl
			} else {
				tok = strings.ReplaceAll(tok, "\u2581", " ")
				v.Types[i] = TokenUserDefined
			}
		} else {
			v.Types[i] = TokenNormal
		}
		v.Tokens[i] = tok
	}
	return v, nil
}

// gpt2Vocab is _set_vocab_gpt2: base vocab, pre-tokenizer name, merges and
// SpecialVocab(load_merges=True).
func (d *Dir) gpt2Vocab() (*Vocab, error) {
	t := d.TokenizerJSON
	file := filepath.Join(d.Path, "tokenizer.json")
	v, err := d.baseVocab(ModelGPT2)
	if err != nil {
		return nil, err
	}
	pre, err := DetectPre(t.PreTokenizer, t.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", file, err)
	}
	v.Pre = pre.Name
	v.PreRegex = pre.Regexes
	v.Normalizer = pre.Normalizer
	v.Merges = make([]string, len(t.Model.Merges))
	for i, m := range t.Model.Merges {
		v.Merges[i] = strings.ReplaceAll(m[0], " ", "\u0120") + " " + strings.ReplaceAll(m[1], " ", "\u0120")
	}
	if err := d.specialVocab(v, 0); err != nil {
		return nil, err
	}
	if v.AddBOS == nil && llamaCppAddsBOS(v.Pre) {
		// Nothing in the tokenizer asks for BOS, so transformers adds none,
		// but llama.cpp defaults add_bos to true for these pre-tokenizers.
		v.AddBOS = boolp(false)
	}
	return v, nil
}

// llamaCppAddsBOS reports the pre-tokenizers for which llama.cpp's loader
// turns add_bos on when the GGUF does not say.
func llamaCppAddsBOS(pre string) bool {
	switch pre {
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano", "tekken", "chameleon":
		return true
	}
	return false
}

// bertVocab is BertModel.set_vocab: base vocab in phantom-space form
// (CONTROL tokens kept, "##x" -> "x", anything else, [PAD{i}] fillers
// included, "x" -> "▁x").
func (d *Dir) bertVocab() (*Vocab, error) {
	v, err := d.baseVocab(ModelBert)
	if err != nil {
		return nil, err
	}
	// llama.cpp's WPM tokenizer does BERT pre-tokenization itself; the
	// pre-tokenizer name is not used for it.
	v.Pre = "default"
	n := 1.0 // hparams.get("type_vocab_size", 1)
	if r, ok := d.ModelConfig["type_vocab_size"]; ok && json.Unmarshal(r, &n) != nil {
		n = 1
	}
	if n >= 1 && n < 1<<16 {
		v.TokenTypeCount = uint32(n)
	}
	for i, tok := range v.Tokens {
		switch {
		case v.Types[i] == TokenControl:
		case strings.HasPrefix(tok, "##"):
			v.Tokens[i] = tok[2:]
		default:
			v.Tokens[i] = "\u2581" + tok
		}
	}
	if err := d.specialVocab(v, len(v.Tokens)); err != nil {
		return nil, err
	}
	return v, nil
}

// unigramJSONVocab converts a tokenizer.json Unigram model (no
// tokenizer.model) to a "t5" vocabulary.
func (d *Dir) unigramJSONVocab() (*Vocab, error) {
	t := d.TokenizerJSON
	v := newVocab(ModelT5)
	v.Pre = "default"
	v.Source = filepath.Join(d.Path, "tokenizer.json")
	n := t.VocabSize()
	v.Tokens = make([]string, n)
	v.Scores = make([]float32, n)
	v.Types = make([]TokenType, n)
	for i, p := range t.Model.Unigram {
		v.Tokens[i], v.Scores[i], v.Types[i] = p.Piece, float32(p.Score), TokenNormal
		if t.Model.ByteFallback && byteTokenRE.MatchString(p.Piece) {
			v.Types[i] = TokenByte
		}
	}
	if t.Model.UnkID >= 0 {
		v.Types[t.Model.UnkID] = TokenUnknown
	}
	for _, a := range t.AddedTokens {
		v.Tokens[a.ID] = a.Content
		if a.Special {
			v.Types[a.ID] = TokenControl
		} else {
			v.Types[a.ID] = TokenUserDefined
		}
	}
	for i := len(t.Model.Unigram); i < n; i++ {
		if v.Tokens[i] == "" {
			v.Tokens[i], v.Scores[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), -10000, TokenUnused
		}
	}
	v.AddSpacePrefix = boolp(true)
	v.RemoveExtraWhitespaces = boolp(false)
	if err := d.specialVocab(v, len(v.Tokens)); err != nil {
		return nil, err
	}
	return v, nil
}
