package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Split regexes as the reference tokenizer.json files write them.
const (
	// RegexGPT2 is the regex of the ByteLevel pre-tokenizer (use_regex=true).
	RegexGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// RegexLlama3 is LLaMA-3's (also DBRX, Smaug, ChatGLM4).
	RegexLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// RegexQwen2 is Qwen2's (also StableLM2, Hunyuan): single digits.
	RegexQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// RegexDigit is the Digits pre-tokenizer with individual_digits=true.
	RegexDigit = `\p{N}`
	// RegexDigits is the Digits pre-tokenizer with individual_digits=false.
	RegexDigits = `\p{N}+`
	// RegexPunct is the Punctuation pre-tokenizer, as llama.cpp writes it.
	RegexPunct = "[\\p{P}\\$\\+<=>\\^~\\|`]+"

	regexGPT4o  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexTekken = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexBloom  = ` ?[^(\s|.,!?…。，、।۔،)]+`
	regexDSV3   = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
)

// preType is one pre-tokenizer llama.cpp implements (LLAMA_VOCAB_PRE_TYPE_*),
// under the tokenizer.ggml.pre name convert_hf_to_gguf.py gives it, with the
// split regex sequences that define it in tokenizer.json form (a
// ByteLevel(use_regex=true) step counts as RegexGPT2).
type preType struct {
	name  string
	forms [][]string
}

// preTypes is ordered: when two llama.cpp pre-types share a definition (DBRX
// and LLAMA3, say) the first name wins; they tokenize alike.
var preTypes = []preType{
	{"gpt-2", [][]string{{RegexGPT2}}},
	{"llama-bpe", [][]string{{RegexLlama3}}},
	{"qwen2", [][]string{{RegexQwen2}}},
	{"qwen35", [][]string{{`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`}}},
	{"starcoder", [][]string{{RegexDigit, RegexGPT2}}},
	{"falcon", [][]string{{RegexPunct, RegexGPT2, RegexDigits, "[0-9][0-9][0-9]"}, {RegexPunct, RegexGPT2, "[0-9][0-9][0-9]"}}},
	{"deepseek-llm", [][]string{{"[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+", `\s?[!-/:-~！-／：-～‘-‟　-。]+`, `\s+$`, `[一-龥ࠀ-一가-퟿]+`, `\p{N}+`}}},
	{"deepseek-coder", [][]string{{"[\r\n]", `\s?\p{L}+`, `\s?\p{P}+`, `[一-龥ࠀ-一가-퟿]+`, `\p{N}`}}},
	{"deepseek-v3", [][]string{{`\p{N}{1,3}`, `[一-龥぀-ゟ゠-ヿ]+`, regexDSV3}}},
	{"bloom", [][]string{{regexBloom}, {` ?[^(\s|[.,!?…。，、।۔،])]+`}}},
	{"viking", [][]string{{regexBloom, RegexDigit}}},
	{"tekken", [][]string{{regexTekken}}},
	{"gpt-4o", [][]string{{regexGPT4o}}},
	{"chameleon", [][]string{{`<sentinel:[0-9]+>`, `(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`, `([\t\n]|    |  )`, RegexDigit, "[\\p{P}!-/:-@\\[-`{-~]", RegexGPT2}}},
	{"superbpe", [][]string{{`\p{N}+`, `(?=(\d{3})+(?!\d))`}}},
	{"bailingmoe", [][]string{{`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`}}},
	{"seed-coder", [][]string{{`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`}}},
	{"jais-2", [][]string{{`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`}}},
	{"minicpm5", [][]string{{`\p{N}{1,3}`, `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`}}},
	{"exaone-moe", [][]string{{`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+`}}},
}

// Pre is the outcome of DetectPre.
type Pre struct {
	Name       string   // tokenizer.ggml.pre
	Regexes    []string // the split regexes, tokenizer.json form
	Normalizer string   // the normalizer chain, "" when none
}

// preStep is one step of a tokenizer.json pre-tokenizer.
type preStep struct {
	Type             string          `json:"type"`
	Pretokenizers    []preStep       `json:"pretokenizers"`
	Pattern          json.RawMessage `json:"pattern"`
	Behavior         string          `json:"behavior"`
	Invert           bool            `json:"invert"`
	AddPrefixSpace   *bool           `json:"add_prefix_space"`
	UseRegex         *bool           `json:"use_regex"`
	IndividualDigits bool            `json:"individual_digits"`
}

// preRegexes flattens a pre-tokenizer into its split regexes.
func preRegexes(raw json.RawMessage) (regexes []string, byteLevel bool, err error) {
	if raw == nil {
		return nil, false, fmt.Errorf("no pre_tokenizer: llama.cpp's BPE needs one: %w", ErrPreTokenizer)
	}
	var root preStep
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, false, fmt.Errorf("pre_tokenizer: %v: %w", err, ErrCorrupt)
	}
	var walk func(s preStep, depth int) error
	walk = func(s preStep, depth int) error {
		if depth > 8 {
			return fmt.Errorf("pre_tokenizer nested too deeply: %w", ErrCorrupt)
		}
		switch s.Type {
		case "Sequence":
			for _, c := range s.Pretokenizers {
				if err := walk(c, depth+1); err != nil {
					return err
				}
			}
		case "ByteLevel":
			byteLevel = true
			if s.AddPrefixSpace != nil && *s.AddPrefixSpace {
				return fmt.Errorf("ByteLevel with add_prefix_space=true: llama.cpp adds no prefix space to BPE input: %w", ErrPreTokenizer)
			}
			if s.UseRegex == nil || *s.UseRegex {
				regexes = append(regexes, RegexGPT2)
			}
		case "Split":
			var pat struct {
				Regex  *string `json:"Regex"`
				String *string `json:"String"`
			}
			if err := json.Unmarshal(s.Pattern, &pat); err != nil {
				return fmt.Errorf("pre_tokenizer Split pattern: %v: %w", err, ErrCorrupt)
			}
			if s.Invert || !strings.EqualFold(s.Behavior, "Isolated") {
				return fmt.Errorf("Split with behavior %q invert=%v: llama.cpp isolates every match: %w", s.Behavior, s.Invert, ErrPreTokenizer)
			}
			switch {
			case pat.Regex != nil:
				regexes = append(regexes, *pat.Regex)
			case pat.String != nil:
				regexes = append(regexes, regexp.QuoteMeta(*pat.String))
			default:
				return fmt.Errorf("pre_tokenizer Split without a pattern: %w", ErrCorrupt)
			}
		case "Digits":
			if s.IndividualDigits {
				regexes = append(regexes, RegexDigit)
			} else {
				regexes = append(regexes, RegexDigits)
			}
		case "Punctuation":
			regexes = append(regexes, RegexPunct)
		default:
			return fmt.Errorf("pre_tokenizer step %q has no llama.cpp counterpart for byte-level BPE: %w", s.Type, ErrPreTokenizer)
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, false, err
	}
	return regexes, byteLevel, nil
}

// normalizerChain describes a normalizer ("NFC", "Sequence(NFC,Lowercase)").
func normalizerChain(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("normalizer: %v: %w", err, ErrCorrupt)
	}
	if n.Type != "Sequence" {
		return n.Type, nil
	}
	var parts []string
	for _, c := range n.Normalizers {
		if len(parts) > 16 {
			return "", fmt.Errorf("normalizer sequence too long: %w", ErrCorrupt)
		}
		var cn struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(c, &cn); err != nil {
			return "", fmt.Errorf("normalizer: %v: %w", err, ErrCorrupt)
		}
		parts = append(parts, cn.Type)
	}
	return strings.Join(parts, ","), nil
}

// DetectPre derives tokenizer.ggml.pre for a byte-level BPE from its
// tokenizer.json pre_tokenizer and normalizer definitions: the split regexes
// are normalised and compared with the definitions of the pre-tokenizers
// llama.cpp implements. No hash of known models is involved, so a tokenizer
// llama.cpp's converter has never seen still gets its name when its
// definition matches; one that matches nothing is an ErrPreTokenizer that
// shows the regexes.
func DetectPre(preTokenizer, normalizer json.RawMessage) (Pre, error) {
	norm, err := normalizerChain(normalizer)
	if err != nil {
		return Pre{}, err
	}
	switch norm {
	case "", "NFC":
		// llama.cpp does not normalise BPE input; NFC is harmless for
		// already-composed text, as Qwen2's tokenizer assumes.
	default:
		return Pre{}, fmt.Errorf("normalizer %s: llama.cpp applies no normalizer to byte-level BPE input: %w", norm, ErrPreTokenizer)
	}
	regexes, byteLevel, err := preRegexes(preTokenizer)
	if err != nil {
		return Pre{}, err
	}
	if !byteLevel {
		return Pre{}, fmt.Errorf("pre_tokenizer has no ByteLevel step, so the vocabulary is not byte-level: %w", ErrPreTokenizer)
	}
	got := normaliseRegexes(regexes)
	for _, p := range preTypes {
		for _, form := range p.forms {
			if equalStrings(got, normaliseRegexes(form)) {
				return Pre{Name: p.name, Regexes: regexes, Normalizer: norm}, nil
			}
		}
	}
	var b strings.Builder
	for i, r := range regexes {
		fmt.Fprintf(&b, "\n  split %d: %s", i+1, r)
	}
	return Pre{}, fmt.Errorf("the pre-tokenizer matches none of llama.cpp's; its splits are:%s\n(llama.cpp would tokenize this model differently from transformers; a new pre-tokenizer type in llama.cpp is needed): %w", b.String(), ErrPreTokenizer)
}

// normaliseRegexes rewrites spellings that mean the same thing to one form:
// literal CR/LF/TAB as escapes, (?i:...) contractions as llama.cpp's
// bracketed form, possessive quantifiers as greedy ones, {1} removed.
func normaliseRegexes(rs []string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		r = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(r)
		r = strings.ReplaceAll(r, `(?i:'s|'t|'re|'ve|'m|'ll|'d)`, `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`)
		r = strings.ReplaceAll(r, `'(?i:[sdmt]|ll|ve|re)`, `'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])`)
		r = strings.ReplaceAll(dropPossessive(r), `{1}|`, `|`)
		out[i] = r
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// preRegexesFor returns the tokenizer.json-form split regexes of a pre name
// (for rebuilding tokenizer.json from a GGUF vocabulary).
func preRegexesFor(name string) ([]string, bool) {
	switch name {
	case "llama3", "llama-v3", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe", "pixtral", "falcon3", "falcon-h1", "midm-2.0", "lfm2":
		name = "llama-bpe"
	case "mpt", "olmo", "jais", "trillion", "phi-2", "gigachat", "jina-v1-en", "jina-v2-code", "roberta-bpe", "jina-v2-es", "jina-v2-de", "exaone4", "a.x-4.0", "mellum", "modern-bert":
		name = "gpt-2"
	case "stablelm2", "deepseek-r1-qwen", "megrez", "hunyuan", "grok-2", "kormo":
		name = "qwen2"
	case "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
		name = "starcoder"
	case "poro-chat", "gpt3-finnish":
		name = "bloom"
	case "llama4", "kanana2", "minimax-m2":
		name = "gpt-4o"
	case "default":
		name = "falcon" // llama.cpp's default regexes are Falcon's definition
	}
	for _, p := range preTypes {
		if p.name == name {
			return p.forms[0], true
		}
	}
	return nil, false
}

// dropPossessive turns possessive quantifiers (?+ ++ *+ }+) into greedy ones,
// as llama.cpp does, leaving character classes and escapes alone.
func dropPossessive(re string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			b.WriteByte(c)
			b.WriteByte(re[i+1])
			i++
			if e := re[i]; (e == 'p' || e == 'P' || e == 'x') && i+1 < len(re) && re[i+1] == '{' {
				if j := strings.IndexByte(re[i+1:], '}'); j >= 0 {
					b.WriteString(re[i+1 : i+2+j])
					i += j + 1
				}
			}
			continue
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == ']' && inClass:
			inClass = false
		case !inClass && (c == '?' || c == '+' || c == '*' || c == '}') && i+1 < len(re) && re[i+1] == '+':
			// A '?' right after '(' opens a group, never a quantifier.
			if !(c == '?' && i > 0 && re[i-1] == '(') {
				b.WriteByte(c)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
