package tokenizer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// specialVocab ports gguf-py's SpecialVocab: special token ids and add_*
// flags from tokenizer.json's post-processor and added tokens,
// tokenizer_config.json (falling back to special_tokens_map.json for token
// strings) and config.json, and the chat template. nVocab > 0 bounds the ids.
//
// Where SpecialVocab drops a problem silently we report it: an id outside the
// vocabulary, or a token string found nowhere in the vocabulary, is an
// ErrSpecialToken naming the file. A token string that is in the model vocab
// but not among the added tokens is taken from the vocab (SpecialVocab would
// leave the id unset and llama.cpp would fall back to its per-model default);
// so is one found among the final tokens (SentencePiece pieces, unigram
// pieces).
func (d *Dir) specialVocab(v *Vocab, nVocab int) error {
	ids := map[string]int32{}
	var order []string
	cfgFile := filepath.Join(d.Path, "tokenizer_config.json")
	set := func(typ string, id int32, from string) error {
		if id < 0 || nVocab > 0 && int(id) >= nVocab || int(id) >= len(v.Tokens) {
			return fmt.Errorf("tokenizer: %s: %s token id %d is outside the vocabulary of %d tokens: %w", from, typ, id, len(v.Tokens), ErrSpecialToken)
		}
		if _, ok := ids[typ]; ok {
			return nil
		}
		ids[typ] = id
		order = append(order, typ)
		return nil
	}
	types := []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"}
	hasType := func(t string) bool {
		for _, x := range types {
			if x == t {
				return true
			}
		}
		return false
	}

	// Token strings by kind: tokenizer_config.json, else special_tokens_map.json.
	tokens := map[string]string{}
	if d.SpecialTokens != nil {
		for k, s := range d.SpecialTokens.Tokens {
			tokens[k] = s
		}
	}
	haveConfig := d.Config != nil
	if haveConfig {
		for k, s := range d.Config.Tokens {
			tokens[k] = s
		}
	}
	add := map[string]bool{}
	var addOrder []string
	setAdd := func(k string, b bool) {
		if _, ok := add[k]; !ok {
			addOrder = append(addOrder, k)
		}
		add[k] = b
	}

	t := d.TokenizerJSON
	if t != nil {
		if err := normalizerFlags(v, t.Normalizer); err != nil {
			return fmt.Errorf("tokenizer: %s/tokenizer.json: normalizer: %w", d.Path, err)
		}
		bos, cls, eos, sep := tokens["bos"], tokens["cls"], tokens["eos"], tokens["sep"]
		if bos == "" && cls != "" && haveConfig {
			tokens["bos"], bos = cls, cls
		}
		if eos == "" && sep != "" && haveConfig {
			tokens["eos"], eos = sep, sep
		}
		for _, proc := range postProcessors(t.PostProcessor) {
			switch proc.Type {
			case "RobertaProcessing":
				setAdd("bos", true)
				setAdd("eos", true)
				setAdd("sep", true)
				if cls == "" && haveConfig {
					cls = bos
					if proc.Cls != nil {
						cls = proc.Cls.content()
					}
					tokens["cls"] = cls
				}
				if sep == "" && haveConfig {
					sep = eos
					if proc.Sep != nil {
						sep = proc.Sep.content()
					}
					tokens["sep"] = sep
				}
			case "TemplateProcessing":
				first, last := "", ""
				if len(proc.Single) > 1 {
					if first = proc.Single[0].specialID(); first != "" {
						if !haveConfig {
							bos = first
						}
						setAdd("bos", first == bos || first == cls)
					}
					if last = proc.Single[len(proc.Single)-1].specialID(); last != "" {
						if !haveConfig {
							eos = last
						} else if last != eos {
							switch {
							case !hasType("eot"):
								types = append(types, "eot")
								tokens["eot"] = eos
							case !hasType("eom"):
								types = append(types, "eom")
								tokens["eom"] = eos
							}
							tokens["eos"], eos = last, last
						}
						setAdd("eos", last == eos)
					}
				}
				pair := proc.Pair
				if len(pair) > 0 {
					start, stop := 0, len(pair)
					if first != "" && pair[0].specialID() == first {
						start = 1
					}
					if last != "" && pair[len(pair)-1].specialID() == last {
						stop--
					}
					if start < stop {
						pair = pair[start:stop]
						a, b := pair[0].sequenceID(), pair[len(pair)-1].sequenceID()
						if a == "A" && b == "B" && len(pair) > 2 {
							mid := pair[1 : len(pair)-1]
							addSep := false
							if e := mid[0].specialID(); e != "" && (e == sep || e == eos) && last == "" {
								addSep = true
							}
							if len(mid) == 2 {
								if e := mid[1].specialID(); e != "" && (e == sep || e == eos) {
									addSep = true
								}
							}
							setAdd("sep", addSep)
							if addSep && sep == "" && haveConfig {
								tokens["sep"] = eos
							}
						}
					}
				}
			}
		}
		// SpecialVocab returns here when there is no tokenizer_config.json:
		// its token strings (from the post-processor) are never looked up.
		if haveConfig {
			for _, typ := range types {
				if b, ok := d.Config.Add[typ]; ok {
					setAdd(typ, b)
				}
				s, ok := tokens[typ]
				if !ok {
					continue
				}
				id, found := lookupAdded(t, s)
				if !found {
					if vid, ok := t.Model.Vocab[s]; ok {
						id, found = vid, true
					} else if vid := v.TokenID(s); vid != NoToken {
						id, found = vid, true
					}
				}
				if !found {
					return fmt.Errorf("tokenizer: %s: %s_token %q is not in the vocabulary: %w", cfgFile, typ, s, ErrSpecialToken)
				}
				if err := set(typ, id, cfgFile); err != nil {
					return err
				}
			}
		}
	} else if haveConfig {
		// No tokenizer.json: SpecialVocab finds no added tokens to look the
		// strings up in; only the add_* flags count.
		for _, typ := range types {
			if b, ok := d.Config.Add[typ]; ok {
				setAdd(typ, b)
			}
		}
	}
	// SpecialVocab reads the chat template only when tokenizer_config.json
	// exists: its own chat_template, else chat_template.jinja/json.
	if haveConfig {
		if _, ok := d.Config.Raw["chat_template"]; ok {
			v.ChatTemplates = d.Config.ChatTemplates
		} else {
			v.ChatTemplates = d.ChatTemplateAlt
		}
	}

	// config.json {typ}_token_id (or text_config.{typ}_token_id).
	if d.ModelConfig != nil {
		var tc map[string]json.RawMessage
		if r, ok := d.ModelConfig["text_config"]; ok {
			_ = json.Unmarshal(r, &tc)
		}
		cfg := filepath.Join(d.Path, "config.json")
		for _, typ := range types {
			r, ok := d.ModelConfig[typ+"_token_id"]
			if (!ok || isNull(r)) && tc != nil {
				r = tc[typ+"_token_id"]
			}
			var f float64
			if isNull(r) || json.Unmarshal(r, &f) != nil {
				continue // lists and other shapes are ignored, as SpecialVocab does
			}
			if f != float64(int64(f)) || f >= maxVocab {
				return fmt.Errorf("tokenizer: %s: %s_token_id %v: %w", cfg, typ, f, ErrSpecialToken)
			}
			if err := set(typ, int32(f), cfg); err != nil {
				return err
			}
		}
	}

	for _, s := range v.specials() {
		if id, ok := ids[s.typ]; ok {
			*s.id = id
		}
	}
	for _, k := range addOrder {
		b := add[k]
		switch k {
		case "bos":
			v.AddBOS = boolp(b)
		case "eos":
			v.AddEOS = boolp(b)
		case "sep":
			v.AddSEP = boolp(b)
		}
	}
	return nil
}

// lookupAdded finds the first added token with this content.
func lookupAdded(t *HFTokenizer, s string) (int32, bool) {
	for _, a := range t.AddedTokens {
		if a.Content == s {
			return a.ID, true
		}
	}
	return 0, false
}

// processor is one tokenizer.json post-processor.
type processor struct {
	Type       string          `json:"type"`
	Processors []processor     `json:"processors"`
	Single     []templateItem  `json:"single"`
	Pair       []templateItem  `json:"pair"`
	Cls        *roberta        `json:"cls"`
	Sep        *roberta        `json:"sep"`
	Special    json.RawMessage `json:"special_tokens"`
}

// roberta is RobertaProcessing's ["<s>", 0] token.
type roberta []json.RawMessage

func (r *roberta) content() string {
	if r == nil || len(*r) == 0 {
		return ""
	}
	var s string
	_ = json.Unmarshal((*r)[0], &s)
	return s
}

type templateItem struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

func (t templateItem) specialID() string {
	if t.SpecialToken == nil {
		return ""
	}
	return t.SpecialToken.ID
}

func (t templateItem) sequenceID() string {
	if t.Sequence == nil {
		return ""
	}
	return t.Sequence.ID
}

// postProcessors flattens a post-processor (a Sequence's "processors", or
// the one processor) as SpecialVocab iterates it.
func postProcessors(raw json.RawMessage) []processor {
	if raw == nil {
		return nil
	}
	var p processor
	if json.Unmarshal(raw, &p) != nil {
		return nil
	}
	if p.Processors != nil {
		return p.Processors
	}
	return []processor{p}
}

// normalizerFlags is gguf-py's SpecialVocab._parse_normalizer: Lowercase and
// StripAccents normalizers set the flags, a BertNormalizer sets each flag it
// names (null unsets it), and a Sequence is read in order.
func normalizerFlags(v *Vocab, raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var n struct {
		Type         string            `json:"type"`
		Lowercase    json.RawMessage   `json:"lowercase"`
		StripAccents json.RawMessage   `json:"strip_accents"`
		Normalizers  []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	flag := func(r json.RawMessage) (*bool, error) {
		if isNull(r) {
			return nil, nil
		}
		var b bool
		if err := json.Unmarshal(r, &b); err != nil {
			return nil, fmt.Errorf("%s is not a boolean: %w", r, ErrCorrupt)
		}
		return &b, nil
	}
	var err error
	switch n.Type {
	case "Lowercase":
		v.NormLowercase = boolp(true)
	case "StripAccents":
		v.NormStripAccents = boolp(true)
	case "BertNormalizer":
		if n.Lowercase != nil {
			if v.NormLowercase, err = flag(n.Lowercase); err != nil {
				return err
			}
		}
		if n.StripAccents != nil {
			if v.NormStripAccents, err = flag(n.StripAccents); err != nil {
				return err
			}
		}
	case "Sequence":
		for _, x := range n.Normalizers {
			if err := normalizerFlags(v, x); err != nil {
				return err
			}
		}
	}
	return nil
}
