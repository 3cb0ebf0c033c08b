package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ModelConfig is a model's hyper-parameters, read from config.json (or a
// consolidated params.json, or GGUF metadata) with the aliases the model
// families use. Zero means "not set" for every numeric field. Fields the type
// does not know are kept in Extra and written back unchanged by MarshalJSON.
type ModelConfig struct {
	Architectures []string `json:"architectures,omitempty"`
	ModelType     string   `json:"model_type,omitempty"`

	HiddenSize       int     `json:"hidden_size,omitempty"`
	NumLayers        int     `json:"num_hidden_layers,omitempty"`
	NumHeads         int     `json:"num_attention_heads,omitempty"`
	NumKVHeads       int     `json:"num_key_value_heads,omitempty"`
	HeadDim          int     `json:"head_dim,omitempty"`
	IntermediateSize int     `json:"intermediate_size,omitempty"`
	VocabSize        int     `json:"vocab_size,omitempty"`
	MaxPositions     int     `json:"max_position_embeddings,omitempty"`
	NormEps          float64 `json:"rms_norm_eps,omitempty"`
	RopeTheta        float64 `json:"rope_theta,omitempty"`
	// RopeScaling is rope_scaling (or transformers 5's rope_parameters) as
	// written; nil when absent.
	RopeScaling       map[string]any `json:"rope_scaling,omitempty"`
	TieWordEmbeddings *bool          `json:"tie_word_embeddings,omitempty"`
	TorchDType        string         `json:"torch_dtype,omitempty"`
	RotaryDim         int            `json:"rotary_dim,omitempty"`
	TypeVocabSize     int            `json:"type_vocab_size,omitempty"`

	// Mixture of experts.
	NumExperts                   int `json:"num_local_experts,omitempty"`
	NumExpertsPerTok             int `json:"num_experts_per_tok,omitempty"`
	MoEIntermediateSize          int `json:"moe_intermediate_size,omitempty"`
	SharedExpertIntermediateSize int `json:"shared_expert_intermediate_size,omitempty"`
	NumSharedExperts             int `json:"n_shared_experts,omitempty"`
	FirstKDenseReplace           int `json:"first_k_dense_replace,omitempty"`

	// Multi-head latent attention (DeepSeek V2/V3).
	QLoraRank     int `json:"q_lora_rank,omitempty"`
	KVLoraRank    int `json:"kv_lora_rank,omitempty"`
	QKNopeHeadDim int `json:"qk_nope_head_dim,omitempty"`
	QKRopeHeadDim int `json:"qk_rope_head_dim,omitempty"`
	VHeadDim      int `json:"v_head_dim,omitempty"`

	// Encoder–decoder (T5).
	NumDecoderLayers int `json:"num_decoder_layers,omitempty"`
	RelAttnBuckets   int `json:"relative_attention_num_buckets,omitempty"`

	// TextConfig is the nested text_config of multimodal configs (Gemma 3,
	// Llava …). Fields the outer config lacks are taken from it by Effective.
	TextConfig *ModelConfig `json:"text_config,omitempty"`

	// Extra holds every field the type does not know, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
	// Source names the file the config was read from, for error messages.
	Source string `json:"-"`

	// keys remembers which alias each field was read from, so MarshalJSON
	// writes it back under the same name.
	keys map[string]string
}

type fieldKind int

const (
	kindInt fieldKind = iota
	kindFloat
	kindString
	kindStrings
	kindBool
	kindObject
)

// configField describes one typed field: the canonical config.json key, the
// aliases that families use for it, and the range of sane values.
type configField struct {
	key     string
	aliases []string
	kind    fieldKind
	min     float64 // inclusive; ints and floats
	max     float64 // inclusive
	get     func(c *ModelConfig) any
	set     func(c *ModelConfig, v any)
}

func intField(key string, aliases []string, min, max float64, p func(c *ModelConfig) *int) configField {
	return configField{key: key, aliases: aliases, kind: kindInt, min: min, max: max,
		get: func(c *ModelConfig) any { return *p(c) },
		set: func(c *ModelConfig, v any) { *p(c) = v.(int) }}
}

func floatField(key string, aliases []string, min, max float64, p func(c *ModelConfig) *float64) configField {
	return configField{key: key, aliases: aliases, kind: kindFloat, min: min, max: max,
		get: func(c *ModelConfig) any { return *p(c) },
		set: func(c *ModelConfig, v any) { *p(c) = v.(float64) }}
}

const (
	maxLayers = 1 << 14
	maxDim    = 1 << 24
	maxVocab  = 1 << 26
	maxCtx    = 1 << 30
)

// configFields is the alias table. The first name is the canonical
// (transformers) key; the rest are the aliases other families use.
var configFields = []configField{
	{key: "architectures", kind: kindStrings,
		get: func(c *ModelConfig) any { return c.Architectures },
		set: func(c *ModelConfig, v any) { c.Architectures = v.([]string) }},
	{key: "model_type", kind: kindString,
		get: func(c *ModelConfig) any { return c.ModelType },
		set: func(c *ModelConfig, v any) { c.ModelType = v.(string) }},
	intField("hidden_size", []string{"n_embd", "d_model", "dim"}, 1, maxDim, func(c *ModelConfig) *int { return &c.HiddenSize }),
	intField("num_hidden_layers", []string{"n_layer", "num_layers", "n_layers"}, 1, maxLayers, func(c *ModelConfig) *int { return &c.NumLayers }),
	intField("num_attention_heads", []string{"n_head", "num_heads", "n_heads"}, 1, maxDim, func(c *ModelConfig) *int { return &c.NumHeads }),
	intField("num_key_value_heads", []string{"num_kv_heads", "n_head_kv", "n_kv_heads", "multi_query_group_num"}, 1, maxDim, func(c *ModelConfig) *int { return &c.NumKVHeads }),
	intField("head_dim", []string{"d_kv", "kv_channels"}, 1, maxDim, func(c *ModelConfig) *int { return &c.HeadDim }),
	intField("intermediate_size", []string{"n_inner", "ffn_dim", "d_ff", "ffn_hidden_size"}, 1, maxDim, func(c *ModelConfig) *int { return &c.IntermediateSize }),
	intField("vocab_size", []string{"n_vocab", "padded_vocab_size"}, 1, maxVocab, func(c *ModelConfig) *int { return &c.VocabSize }),
	intField("max_position_embeddings", []string{"n_positions", "n_ctx", "max_seq_len", "seq_length"}, 1, maxCtx, func(c *ModelConfig) *int { return &c.MaxPositions }),
	floatField("rms_norm_eps", []string{"layer_norm_epsilon", "layer_norm_eps", "norm_eps", "norm_epsilon"}, 0, 1, func(c *ModelConfig) *float64 { return &c.NormEps }),
	floatField("rope_theta", []string{"rotary_emb_base", "rope_base"}, 0, 1e12, func(c *ModelConfig) *float64 { return &c.RopeTheta }),
	{key: "rope_scaling", aliases: []string{"rope_parameters"}, kind: kindObject,
		get: func(c *ModelConfig) any { return c.RopeScaling },
		set: func(c *ModelConfig, v any) { c.RopeScaling = v.(map[string]any) }},
	{key: "tie_word_embeddings", kind: kindBool,
		get: func(c *ModelConfig) any { return c.TieWordEmbeddings },
		set: func(c *ModelConfig, v any) { b := v.(bool); c.TieWordEmbeddings = &b }},
	{key: "torch_dtype", aliases: []string{"dtype"}, kind: kindString,
		get: func(c *ModelConfig) any { return c.TorchDType },
		set: func(c *ModelConfig, v any) { c.TorchDType = v.(string) }},
	intField("rotary_dim", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.RotaryDim }),
	intField("type_vocab_size", nil, 1, maxVocab, func(c *ModelConfig) *int { return &c.TypeVocabSize }),
	intField("num_local_experts", []string{"num_experts", "n_routed_experts", "moe_num_experts"}, 1, 1<<16, func(c *ModelConfig) *int { return &c.NumExperts }),
	intField("num_experts_per_tok", []string{"num_experts_per_token", "moe_top_k"}, 1, 1<<16, func(c *ModelConfig) *int { return &c.NumExpertsPerTok }),
	intField("moe_intermediate_size", []string{"expert_intermediate_size"}, 1, maxDim, func(c *ModelConfig) *int { return &c.MoEIntermediateSize }),
	intField("shared_expert_intermediate_size", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.SharedExpertIntermediateSize }),
	intField("n_shared_experts", []string{"num_shared_experts"}, 0, 1<<16, func(c *ModelConfig) *int { return &c.NumSharedExperts }),
	intField("first_k_dense_replace", nil, 0, maxLayers, func(c *ModelConfig) *int { return &c.FirstKDenseReplace }),
	intField("q_lora_rank", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.QLoraRank }),
	intField("kv_lora_rank", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.KVLoraRank }),
	intField("qk_nope_head_dim", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.QKNopeHeadDim }),
	intField("qk_rope_head_dim", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.QKRopeHeadDim }),
	intField("v_head_dim", nil, 1, maxDim, func(c *ModelConfig) *int { return &c.VHeadDim }),
	intField("num_decoder_layers", nil, 1, maxLayers, func(c *ModelConfig) *int { return &c.NumDecoderLayers }),
	intField("relative_attention_num_buckets", nil, 1, 1<<20, func(c *ModelConfig) *int { return &c.RelAttnBuckets }),
}

// maxConfigBytes caps the size of a config file; real ones are a few KiB.
const maxConfigBytes = 16 << 20

// LoadConfig reads and validates a config.json (or a consolidated
// params.json). Errors name the file and the field.
func LoadConfig(path string) (*ModelConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mapping: %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("mapping: %s: larger than %d bytes: %w", path, maxConfigBytes, ErrBadConfig)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses config.json bytes. source names the file in errors (use
// "config.json" when there is none). The config is validated: every known
// field must have the right JSON type and a sane value, and the attention
// geometry must be consistent (heads divide hidden_size unless head_dim is
// given; key-value heads divide heads). Defaults of the architecture named
// by model_type / architectures fill fields the file leaves out, the way
// transformers does when it loads a config saved with only non-default fields.
func ParseConfig(data []byte, source string) (*ModelConfig, error) {
	if source == "" {
		source = "config.json"
	}
	c, err := parseConfigObject(data, source, "")
	if err != nil {
		return nil, err
	}
	if c.TextConfig == nil {
		if a := lookupConfigArch(c); a != nil {
			c.applyDefaults(a.Defaults)
		}
	} else {
		// A multimodal wrapper: the defaults belong to the language model.
		a := lookupConfigArch(c.TextConfig)
		if a == nil {
			a = lookupConfigArch(c)
		}
		if a != nil {
			c.TextConfig.applyDefaults(a.Defaults)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseConfigObject(data []byte, source, prefix string) (*ModelConfig, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("mapping: %s: not a JSON object: %v: %w", source, err, ErrBadConfig)
	}
	if raw == nil {
		return nil, fmt.Errorf("mapping: %s: not a JSON object (null): %w", source, ErrBadConfig)
	}
	c := &ModelConfig{Source: source, Extra: map[string]json.RawMessage{}, keys: map[string]string{}}
	used := map[string]bool{}
	for _, f := range configFields {
		for _, name := range append([]string{f.key}, f.aliases...) {
			msg, ok := raw[name]
			if !ok {
				continue
			}
			if bytes.Equal(bytes.TrimSpace(msg), []byte("null")) {
				continue
			}
			if used[f.key] {
				// A second alias of a field already read stays as an
				// unknown field so that it is written back unchanged.
				break
			}
			v, err := decodeField(f, msg)
			if err != nil {
				return nil, fmt.Errorf("mapping: %s: field %q: %v: %w", source, prefix+name, err, ErrBadConfig)
			}
			f.set(c, v)
			c.keys[f.key] = name
			used[f.key] = true
			used["\x00"+name] = true
		}
	}
	for k, v := range raw {
		if used["\x00"+k] {
			continue
		}
		if k == "text_config" && prefix == "" {
			// Only one level: a text_config inside a text_config is kept
			// verbatim, which also bounds the recursion on hostile input.
			if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				c.Extra[k] = v
				continue
			}
			tc, err := parseConfigObject(v, source, prefix+"text_config.")
			if err != nil {
				return nil, err
			}
			c.TextConfig = tc
			continue
		}
		c.Extra[k] = v
	}
	// transformers 5 keeps rope_theta inside rope_parameters.
	if c.RopeTheta == 0 && c.RopeScaling != nil {
		if t, ok := ropeThetaOf(c.RopeScaling); ok {
			c.RopeTheta = t
		}
	}
	return c, nil
}

func ropeThetaOf(m map[string]any) (float64, bool) {
	if v, ok := m["rope_theta"].(json.Number); ok {
		f, err := v.Float64()
		return f, err == nil
	}
	if v, ok := m["rope_theta"].(float64); ok {
		return v, true
	}
	if full, ok := m["full_attention"].(map[string]any); ok {
		return ropeThetaOf(full)
	}
	return 0, false
}

func decodeField(f configField, msg json.RawMessage) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch f.kind {
	case kindInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %s", jsonKind(v))
		}
		i, err := n.Int64()
		if err != nil {
			fl, ferr := n.Float64()
			if ferr != nil || fl != math.Trunc(fl) {
				return nil, fmt.Errorf("want an integer, got %s", n)
			}
			i = int64(fl)
		}
		if float64(i) < f.min || float64(i) > f.max {
			return nil, fmt.Errorf("value %d out of range [%g, %g]", i, f.min, f.max)
		}
		return int(i), nil
	case kindFloat:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %s", jsonKind(v))
		}
		fl, err := n.Float64()
		if err != nil || math.IsNaN(fl) || math.IsInf(fl, 0) {
			return nil, fmt.Errorf("want a finite number, got %s", n)
		}
		if fl < f.min || fl > f.max {
			return nil, fmt.Errorf("value %g out of range [%g, %g]", fl, f.min, f.max)
		}
		return fl, nil
	case kindString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", jsonKind(v))
		}
		return s, nil
	case kindStrings:
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, got %s", jsonKind(v))
		}
		out := make([]string, 0, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: want a string, got %s", i, jsonKind(e))
			}
			out = append(out, s)
		}
		return out, nil
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", jsonKind(v))
		}
		return b, nil
	case kindObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %s", jsonKind(v))
		}
		return m, nil
	}
	return nil, fmt.Errorf("unhandled field kind")
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + x.String()
	case string:
		return fmt.Sprintf("the string %q", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// lookupConfigArch finds the registered architecture a config names.
func lookupConfigArch(c *ModelConfig) *Arch {
	for _, cls := range c.Architectures {
		if a := archByClass(cls); a != nil {
			return a
		}
	}
	if c.ModelType != "" {
		return archByModelType(c.ModelType)
	}
	return nil
}

// applyDefaults fills unset fields from an architecture's defaults, given as
// canonical config.json keys.
func (c *ModelConfig) applyDefaults(defaults map[string]any) {
	for _, f := range configFields {
		d, ok := defaults[f.key]
		if !ok || !isZero(f.get(c)) {
			continue
		}
		switch f.kind {
		case kindInt:
			switch v := d.(type) {
			case int:
				f.set(c, v)
			case string:
				// An expression over the other fields ("4*n_embd"),
				// evaluated once the plain defaults are in.
				defer func(f configField, src string) {
					if isZero(f.get(c)) {
						if e, err := parseShape(src); err == nil && len(e) == 1 {
							if n := e.eval(ShapeVars(c))[0]; n > 0 && n <= maxDim {
								f.set(c, int(n))
							}
						}
					}
				}(f, v)
			}
		case kindFloat:
			switch v := d.(type) {
			case float64:
				f.set(c, v)
			case int:
				f.set(c, float64(v))
			}
		case kindBool:
			if v, ok := d.(bool); ok {
				f.set(c, v)
			}
		case kindString:
			if v, ok := d.(string); ok {
				f.set(c, v)
			}
		}
	}
}

func isZero(v any) bool {
	switch x := v.(type) {
	case int:
		return x == 0
	case float64:
		return x == 0
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case *bool:
		return x == nil
	case map[string]any:
		return x == nil
	}
	return v == nil
}

// Validate checks the config's geometry: the fields every transformer needs
// are present (in the config or its text_config) and consistent.
func (c *ModelConfig) Validate() error {
	e := c.Effective()
	src := c.Source
	if src == "" {
		src = "config"
	}
	name := func(key string) string {
		if k, ok := e.keys[key]; ok {
			return k
		}
		for _, f := range configFields {
			if f.key == key && len(f.aliases) > 0 {
				return key + " (or " + strings.Join(f.aliases, ", ") + ")"
			}
		}
		return key
	}
	if e.HiddenSize == 0 {
		return fmt.Errorf("mapping: %s: field %s is missing: %w", src, name("hidden_size"), ErrBadConfig)
	}
	if e.NumLayers == 0 {
		return fmt.Errorf("mapping: %s: field %s is missing: %w", src, name("num_hidden_layers"), ErrBadConfig)
	}
	if e.NumHeads == 0 {
		return fmt.Errorf("mapping: %s: field %s is missing: %w", src, name("num_attention_heads"), ErrBadConfig)
	}
	if e.HeadDim == 0 && e.HiddenSize%e.NumHeads != 0 {
		return fmt.Errorf("mapping: %s: field %s: hidden size %d is not divisible by %d attention heads (set head_dim if that is intended): %w",
			src, name("hidden_size"), e.HiddenSize, e.NumHeads, ErrBadConfig)
	}
	if e.NumKVHeads > 0 {
		if e.NumKVHeads > e.NumHeads || e.NumHeads%e.NumKVHeads != 0 {
			return fmt.Errorf("mapping: %s: field %s: %d key-value heads do not divide %d attention heads: %w",
				src, name("num_key_value_heads"), e.NumKVHeads, e.NumHeads, ErrBadConfig)
		}
	}
	if e.NumExpertsPerTok > 0 && e.NumExperts > 0 && e.NumExpertsPerTok > e.NumExperts {
		return fmt.Errorf("mapping: %s: field %s: %d experts per token exceeds %d experts: %w",
			src, name("num_experts_per_tok"), e.NumExpertsPerTok, e.NumExperts, ErrBadConfig)
	}
	if e.FirstKDenseReplace > e.NumLayers {
		return fmt.Errorf("mapping: %s: field first_k_dense_replace: %d exceeds %d layers: %w",
			src, e.FirstKDenseReplace, e.NumLayers, ErrBadConfig)
	}
	return nil
}

// Effective returns the config with fields it lacks filled in from its
// text_config (the language model of a multimodal checkpoint); the receiver
// is not modified.
func (c *ModelConfig) Effective() *ModelConfig {
	if c.TextConfig == nil {
		return c
	}
	out := *c
	out.keys = map[string]string{}
	for k, v := range c.keys {
		out.keys[k] = v
	}
	tc := c.TextConfig
	for _, f := range configFields {
		if f.key == "architectures" {
			continue
		}
		if isZero(f.get(&out)) && !isZero(f.get(tc)) {
			f.set(&out, deref(f.get(tc)))
			if k, ok := tc.keys[f.key]; ok {
				out.keys[f.key] = "text_config." + k
			}
		}
	}
	if tc.ModelType != "" {
		out.ModelType = tc.ModelType
	}
	return &out
}

func deref(v any) any {
	if b, ok := v.(*bool); ok {
		return *b
	}
	return v
}

// Derived values with the conventions transformers uses.

// KVHeads returns num_key_value_heads, defaulting to num_attention_heads.
func (c *ModelConfig) KVHeads() int {
	if c.NumKVHeads > 0 {
		return c.NumKVHeads
	}
	return c.NumHeads
}

// HeadSize returns head_dim, defaulting to hidden_size / num_attention_heads.
func (c *ModelConfig) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.NumHeads > 0 {
		return c.HiddenSize / c.NumHeads
	}
	return 0
}

// Tied reports whether the output projection shares the embedding.
func (c *ModelConfig) Tied() bool { return c.TieWordEmbeddings != nil && *c.TieWordEmbeddings }

// MarshalJSON writes the config as config.json: known fields under the key
// they were read from (canonical transformers keys for fields that were not
// read from a file), unknown fields verbatim, keys sorted.
func (c *ModelConfig) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.Extra {
		out[k] = v
	}
	for _, f := range configFields {
		v := f.get(c)
		if isZero(v) {
			continue
		}
		key := f.key
		if k, ok := c.keys[f.key]; ok {
			key = k
		}
		if f.key == "rope_theta" && key == "rope_theta" && c.keys["rope_theta"] == "" && c.RopeScaling != nil {
			// Read from rope_parameters: written back there, not twice.
			if _, ok := ropeThetaOf(c.RopeScaling); ok {
				continue
			}
		}
		out[key] = v
	}
	if c.TextConfig != nil {
		out["text_config"] = c.TextConfig
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(out[k])
		if err != nil {
			return nil, fmt.Errorf("mapping: config field %q: %w", k, err)
		}
		buf.WriteString("  ")
		buf.Write(kb)
		buf.WriteString(": ")
		buf.Write(vb)
		if i < len(keys)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}")
	return buf.Bytes(), nil
}

// WriteConfig writes cfg as dir/config.json (or to path when it ends in
// .json), indented, atomically (temporary file then rename).
func WriteConfig(cfg *ModelConfig, path string) error {
	if !strings.HasSuffix(path, ".json") {
		path = filepath.Join(path, "config.json")
	}
	b, err := cfg.MarshalJSON()
	if err != nil {
		return err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, "", "  "); err != nil {
		return fmt.Errorf("mapping: %s: %w", path, err)
	}
	ind.WriteByte('\n')
	return writeFileAtomic(path, ind.Bytes())
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("mapping: %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("mapping: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("mapping: %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("mapping: %s: %w", path, err)
	}
	return nil
}
