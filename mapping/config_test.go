package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfigAliases(t *testing.T) {
	cases := []struct {
		name, json                    string
		hidden, layers, heads, kv, ff int
		eps                           float64
	}{
		{"hf", `{"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"rms_norm_eps":1e-5}`, 64, 2, 4, 2, 128, 1e-5},
		{"gpt2", `{"model_type":"gpt2","n_embd":64,"n_layer":3,"n_head":4,"layer_norm_epsilon":1e-5}`, 64, 3, 4, 4, 256, 1e-5},
		{"t5", `{"model_type":"t5","d_model":64,"num_layers":2,"num_heads":4,"d_kv":16,"d_ff":128,"layer_norm_epsilon":1e-6}`, 64, 2, 4, 4, 128, 1e-6},
		{"falcon", `{"model_type":"falcon","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_kv_heads":1}`, 64, 2, 4, 1, 256, 1e-5},
		{"params.json", `{"dim":64,"n_layers":2,"n_heads":4,"n_kv_heads":2,"norm_eps":1e-5,"vocab_size":256,"multiple_of":32}`, 64, 2, 4, 2, 0, 1e-5},
		{"phi3 ffn_dim", `{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"ffn_dim":96,"layer_norm_eps":1e-6}`, 64, 2, 4, 4, 96, 1e-6},
		{"nested text_config", `{"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3","text_config":{"model_type":"gemma3_text","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":1,"head_dim":16,"intermediate_size":128}}`, 64, 2, 4, 1, 128, 1e-6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(c.json), "config.json")
			if err != nil {
				t.Fatal(err)
			}
			e := cfg.Effective()
			if e.HiddenSize != c.hidden || e.NumLayers != c.layers || e.NumHeads != c.heads || e.KVHeads() != c.kv || e.IntermediateSize != c.ff || e.NormEps != c.eps {
				t.Errorf("got hidden %d layers %d heads %d kv %d ff %d eps %g", e.HiddenSize, e.NumLayers, e.NumHeads, e.KVHeads(), e.IntermediateSize, e.NormEps)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := map[string]any{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name  string
		data  []byte
		field string // must appear in the message
	}{
		{"layers as string", with("num_hidden_layers", "2"), "num_hidden_layers"},
		{"negative layers", with("num_hidden_layers", -2), "num_hidden_layers"},
		{"fractional heads", with("num_attention_heads", 2.5), "num_attention_heads"},
		{"absurd hidden", with("hidden_size", 1e15), "hidden_size"},
		{"hidden not divisible", with("hidden_size", 66), "hidden_size"},
		{"kv heads do not divide", with("num_key_value_heads", 3), "num_key_value_heads"},
		{"eps negative", with("rms_norm_eps", -1), "rms_norm_eps"},
		{"architectures not a list", with("architectures", "LlamaForCausalLM"), "architectures"},
		{"architectures element", with("architectures", []any{1}), "architectures"},
		{"tie as string", with("tie_word_embeddings", "yes"), "tie_word_embeddings"},
		{"rope_scaling as list", with("rope_scaling", []any{1}), "rope_scaling"},
		{"alias wrong type", []byte(`{"n_embd":"64","n_layer":2,"n_head":4}`), "n_embd"},
		{"nested wrong type", []byte(`{"text_config":{"hidden_size":true,"num_hidden_layers":2,"num_attention_heads":4}}`), "text_config.hidden_size"},
		{"not an object", []byte(`[1,2]`), "config.json"},
		{"truncated", []byte(`{"hidden_size": 64`), "config.json"},
		{"null", []byte(`null`), "config.json"},
		{"experts per token", []byte(`{"model_type":"mixtral","num_local_experts":4,"num_experts_per_tok":9}`), "num_experts_per_tok"},
	}
	// Missing fields, with no architecture defaults to fall back on.
	noArch := map[string]any{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
	for _, k := range []string{"hidden_size", "num_hidden_layers", "num_attention_heads"} {
		m := map[string]any{}
		for a, b := range noArch {
			if a != k {
				m[a] = b
			}
		}
		b, _ := json.Marshal(m)
		cases = append(cases, struct {
			name  string
			data  []byte
			field string
		}{"missing " + k, b, k})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(c.data, "models/x/config.json")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("error %v is not ErrBadConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "models/x/config.json") || !strings.Contains(msg, c.field) {
				t.Errorf("error %q does not name the file and %q", msg, c.field)
			}
		})
	}
}

// TestConfigRoundTrip: every fixture config survives parse → write → parse
// with its typed fields, its unknown fields and the alias it used.
func TestConfigRoundTrip(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Arch, func(t *testing.T) {
			t.Parallel()
			c1, err := ParseConfig(fx.Config, "config.json")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "config.json")
			if err := WriteConfig(c1, path); err != nil {
				t.Fatal(err)
			}
			c2, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range configFields {
				a, _ := json.Marshal(f.get(c1))
				b, _ := json.Marshal(f.get(c2))
				if string(a) != string(b) {
					t.Errorf("%s: %s then %s", f.key, a, b)
				}
			}
			var orig, back map[string]json.RawMessage
			json.Unmarshal(fx.Config, &orig)
			raw, _ := os.ReadFile(path)
			json.Unmarshal(raw, &back)
			for k := range orig {
				if _, ok := back[k]; !ok {
					t.Errorf("key %q lost on write", k)
				}
			}
			for k := range c1.Extra {
				if string(c1.Extra[k]) != string(c2.Extra[k]) {
					var x, y any
					json.Unmarshal(c1.Extra[k], &x)
					json.Unmarshal(c2.Extra[k], &y)
					xb, _ := json.Marshal(x)
					yb, _ := json.Marshal(y)
					if string(xb) != string(yb) {
						t.Errorf("unknown field %q: %s then %s", k, c1.Extra[k], c2.Extra[k])
					}
				}
			}
		})
	}
}

func TestConfigDefaultsFromArch(t *testing.T) {
	// transformers saves only non-default fields: the arch fills the rest.
	c, err := ParseConfig([]byte(`{"architectures":["MistralForCausalLM"],"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":16}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.NumKVHeads != 8 || c.VocabSize != 32000 || c.NormEps != 1e-6 || c.Tied() {
		t.Errorf("mistral defaults not applied: %+v", c)
	}
	b, _ := c.MarshalJSON()
	if !strings.Contains(string(b), `"num_key_value_heads": 8`) {
		t.Errorf("defaults not written back: %s", b)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add([]byte(fx.Config))
	}
	f.Add([]byte(`{"text_config":{"text_config":{"hidden_size":1}}}`))
	f.Add([]byte(`{"hidden_size":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			return
		}
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := ParseConfig(b, "again.json"); err != nil {
			t.Fatalf("written config does not parse: %v\n%s", err, b)
		}
	})
}
