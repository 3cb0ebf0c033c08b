package tokenizer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func splitStep(re string) map[string]any {
	return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": re}, "behavior": "Isolated", "invert": false}
}

func byteLevelStep(useRegex bool) map[string]any {
	return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
}

func seq(steps ...map[string]any) json.RawMessage {
	return jsonOf(map[string]any{"type": "Sequence", "pretokenizers": steps})
}

// TestDetectPre feeds the pre-tokenizer definitions of real model families
// (as their tokenizer.json files write them) and checks the name llama.cpp
// knows them by.
func TestDetectPre(t *testing.T) {
	t.Parallel()
	nfc := jsonOf(map[string]any{"type": "NFC"})
	cases := []struct {
		family string
		pre    json.RawMessage
		norm   json.RawMessage
		want   string
	}{
		{"gpt2", jsonOf(byteLevelStep(true)), nil, "gpt-2"},
		{"llama3", seq(splitStep(RegexLlama3), byteLevelStep(false)), nil, "llama-bpe"},
		{"llama3 as llama.cpp spells it", seq(splitStep(`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`), byteLevelStep(false)), nil, "llama-bpe"},
		{"glm4 (same regex as llama3)", seq(splitStep(RegexLlama3), byteLevelStep(false)), nil, "llama-bpe"},
		{"qwen2", seq(splitStep(RegexQwen2), byteLevelStep(false)), nfc, "qwen2"},
		{"starcoder", seq(map[string]any{"type": "Digits", "individual_digits": true}, byteLevelStep(true)), nil, "starcoder"},
		{"falcon", seq(map[string]any{"type": "Punctuation", "behavior": "Contiguous"}, byteLevelStep(true),
			map[string]any{"type": "Digits", "individual_digits": false}, splitStep("[0-9][0-9][0-9]")), nil, "falcon"},
		{"deepseek-coder", seq(splitStep("[\r\n]"), splitStep(`\s?\p{L}+`), splitStep(`\s?\p{P}+`), splitStep(`[一-龥ࠀ-一가-퟿]+`),
			map[string]any{"type": "Digits", "individual_digits": true}, byteLevelStep(false)), nil, "deepseek-coder"},
		{"deepseek-v3", seq(splitStep(`\p{N}{1,3}`), splitStep(`[一-龥぀-ゟ゠-ヿ]+`), splitStep(regexDSV3), byteLevelStep(false)), nil, "deepseek-v3"},
		{"deepseek-v3, escaped newlines", seq(splitStep(`\p{N}{1,3}`), splitStep(`[一-龥぀-ゟ゠-ヿ]+`),
			splitStep(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(regexDSV3)), byteLevelStep(false)), nil, "deepseek-v3"},
		{"gpt-4o / llama4", seq(splitStep(regexGPT4o), byteLevelStep(false)), nil, "gpt-4o"},
		{"tekken", seq(splitStep(regexTekken), byteLevelStep(false)), nil, "tekken"},
		{"bloom", seq(splitStep(` ?[^(\s|[.,!?…。，、।۔،])]+`), byteLevelStep(false)), nil, "bloom"},
		{"viking", seq(splitStep(regexBloom), map[string]any{"type": "Digits", "individual_digits": true}, byteLevelStep(false)), nil, "viking"},
		{"bailingmoe (possessive)", seq(splitStep(`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`), byteLevelStep(false)), nil, "bailingmoe"},
		{"seed-coder", seq(splitStep(`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`), byteLevelStep(false)), nil, "seed-coder"},
		{"superbpe", seq(splitStep(`\p{N}+`), splitStep(`(?=(\d{3})+(?!\d))`), byteLevelStep(false)), nil, "superbpe"},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			t.Parallel()
			got, err := DetectPre(c.pre, c.norm)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != c.want {
				t.Fatalf("pre %q, want %q", got.Name, c.want)
			}
		})
	}
}

func TestDetectPreRefuses(t *testing.T) {
	t.Parallel()
	odd := `\p{L}+\p{N}*|\s+|[^\s\p{L}]+`
	cases := []struct {
		name    string
		pre     json.RawMessage
		norm    json.RawMessage
		wantErr error
		wantMsg string
	}{
		{"unknown regex", seq(splitStep(odd), byteLevelStep(false)), nil, ErrPreTokenizer, odd},
		{"llama3 without ByteLevel", seq(splitStep(RegexLlama3)), nil, ErrPreTokenizer, "no ByteLevel"},
		{"gpt2 regex plus digits in another order", seq(byteLevelStep(true), map[string]any{"type": "Digits", "individual_digits": true}), nil, ErrPreTokenizer, `\p{N}`},
		{"add_prefix_space", jsonOf(map[string]any{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}), nil, ErrPreTokenizer, "add_prefix_space"},
		{"metaspace", jsonOf(map[string]any{"type": "Metaspace", "replacement": "▁"}), nil, ErrPreTokenizer, "Metaspace"},
		{"removed split", seq(map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\s+`}, "behavior": "Removed"}, byteLevelStep(false)), nil, ErrPreTokenizer, "Removed"},
		{"lowercase normalizer", jsonOf(byteLevelStep(true)), jsonOf(map[string]any{"type": "Lowercase"}), ErrPreTokenizer, "Lowercase"},
		{"no pre-tokenizer", nil, nil, ErrPreTokenizer, "no pre_tokenizer"},
		{"not JSON", json.RawMessage(`{"type":`), nil, ErrCorrupt, "pre_tokenizer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := DetectPre(c.pre, c.norm)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, c.wantMsg)
			}
		})
	}
}

// TestPreTableRegexesCompile: every table regex that Go's regexp can parse
// at all (no lookahead, no possessive) must parse, so typos show.
func TestPreTableRegexesCompile(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range preTypes {
		if seen[p.name] {
			t.Errorf("pre name %q listed twice", p.name)
		}
		seen[p.name] = true
		if len(p.forms) == 0 {
			t.Errorf("%s: no definition", p.name)
		}
		if rs, ok := preRegexesFor(p.name); !ok || len(rs) == 0 {
			t.Errorf("%s: preRegexesFor fails", p.name)
		}
	}
}

func TestDropPossessive(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`a?+b++c*+d{2}+`:           `a?b+c*d{2}`,
		`[()*+,]+`:                 `[()*+,]+`, // inside a class '*+' is two characters
		`\p{L}++`:                  `\p{L}+`,
		`(?+x)`:                    `(?+x)`,
		`[^\s\p{L}\p{N}]++[\r\n]*`: `[^\s\p{L}\p{N}]+[\r\n]*`,
		`\++`:                      `\++`,
		`[]*+]`:                    `[]*+]`,
	} {
		if got := dropPossessive(in); got != want {
			t.Errorf("dropPossessive(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEncoderCoversTable: the encoder implements every pre-tokenizer of the
// table except those whose regexes need lookaround beyond the common
// whitespace tail.
func TestEncoderCoversTable(t *testing.T) {
	t.Parallel()
	refused := map[string]bool{"superbpe": true, "jais-2": true}
	for name := range PreNames() {
		_, err := splittersFor(name, nil)
		if refused[name] {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: err = %v, want ErrUnsupported", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
