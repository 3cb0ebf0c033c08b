package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"mlmf/formats/gguf"
)

// hparams is config.json as convert_hf_to_gguf.py sees it: the raw object,
// with text_config's keys lifted to the top level. Numbers keep their
// spelling so integers and floats are told apart.
type hparams struct {
	m      map[string]any
	source string
}

func loadHParams(path string) (*hparams, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseHParams(b, path)
}

func parseHParams(b []byte, path string) (*hparams, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tc, ok := m["text_config"].(map[string]any); ok {
		for k, v := range tc {
			m[k] = v
		}
	}
	return &hparams{m: m, source: path}, nil
}

// find is the script's find_hparam(keys, optional=True): the value of the
// first key present (nil when that key is null or none is present).
func (h *hparams) find(keys ...string) (any, string) {
	for _, k := range keys {
		if v, ok := h.m[k]; ok {
			return v, k
		}
	}
	return nil, ""
}

// ropeParams is the script's TextModel.rope_parameters: rope_parameters (or
// rope_scaling) with the top-level rope keys mirrored into it.
func (h *hparams) ropeParams() map[string]any {
	rp := map[string]any{}
	src, ok := h.m["rope_parameters"]
	if !ok {
		src = h.m["rope_scaling"]
	}
	if m, ok := src.(map[string]any); ok {
		for k, v := range m {
			rp[k] = v
		}
	}
	_, full := rp["full_attention"]
	_, sliding := rp["sliding_attention"]
	if full || sliding {
		return rp
	}
	if v, _ := h.find("local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"); v != nil {
		rp["sliding_attention"] = map[string]any{"rope_theta": v}
	}
	mirror := func(dst string, v any) {
		if _, ok := rp[dst]; !ok && v != nil {
			rp[dst] = v
		}
	}
	v, _ := h.find("global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base")
	mirror("rope_theta", v)
	mirror("rope_type", rp["type"])
	v, _ = h.find("partial_rotary_factor", "rope_pct", "rope_percent")
	mirror("partial_rotary_factor", v)
	v, _ = h.find("original_max_position_embeddings")
	mirror("original_max_position_embeddings", v)
	return rp
}

func (h *hparams) errf(key, format string, args ...any) error {
	return fmt.Errorf("export: %s: %s: "+format, append([]any{h.source, key}, args...)...)
}

// u32 converts a config value to the uint32 the script's add_uint32 writes.
func (h *hparams) u32(key string, v any) (uint32, error) {
	f, err := h.num(key, v)
	if err != nil {
		return 0, err
	}
	if f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
		return 0, h.errf(key, "%v is not a count", v)
	}
	return uint32(f), nil
}

func (h *hparams) num(key string, v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, h.errf(key, "%v is not a number", v)
		}
		return f, nil
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case bool, nil, string, map[string]any, []any:
		return 0, h.errf(key, "%v is not a number", v)
	}
	return 0, h.errf(key, "%v is not a number", v)
}

// kvRule is one hyper-parameter the converter writes: the GGUF key (under
// the architecture's prefix), its type and where its value comes from.
type kvRule struct {
	key string
	// typ is gguf.TypeUint32 or gguf.TypeFloat32.
	typ gguf.ValueType
	// from are config keys; the first one present gives the value
	// (find_hparam). A null value writes nothing.
	from []string
	// need: the script indexes hparams[...] and fails without the key.
	need bool
	// calc computes the value(s) instead (derived or optional keys).
	calc func(h *hparams, e *kvEnv) ([]gguf.KV, error)
}

// kvEnv is what rules may need besides the config.
type kvEnv struct {
	prefix   string
	fileType uint32
}

func (e *kvEnv) u32(key string, v uint32) gguf.KV  { return gguf.Uint32(e.prefix+key, v) }
func (e *kvEnv) f32(key string, v float64) gguf.KV { return gguf.Float32(e.prefix+key, float32(v)) }

// u, f and must build rules.
func u(key string, from ...string) kvRule { return kvRule{key: key, typ: gguf.TypeUint32, from: from} }
func f(key string, from ...string) kvRule { return kvRule{key: key, typ: gguf.TypeFloat32, from: from} }
func (r kvRule) must() kvRule             { r.need = true; return r }
func calc(fn func(h *hparams, e *kvEnv) ([]gguf.KV, error)) kvRule {
	return kvRule{calc: fn}
}

var (
	fileTypeRule = calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
		return []gguf.KV{gguf.Uint32("general.file_type", e.fileType)}, nil
	})
	blockCountRule = u("block_count", "n_layers", "num_hidden_layers", "n_layer", "num_layers").must()
)

// textModelKVs is TextModel.set_gguf_parameters, in its order.
var textModelKVs = []kvRule{
	blockCountRule,
	u("context_length", "max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"),
	u("embedding_length", "hidden_size", "n_embd", "dim"),
	u("feed_forward_length", "prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"),
	u("attention.head_count", "num_attention_heads", "n_head", "n_heads"),
	u("attention.head_count_kv", "num_key_value_heads", "n_kv_heads"),
	calc(causalKV),
	calc(ropeScalingKVs),
	calc(ropeFreqKVs),
	f("attention.layer_norm_rms_epsilon", "rms_norm_eps", "norm_eps"),
	f("attention.layer_norm_epsilon", "layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"),
	u("expert_count", "num_local_experts", "num_experts", "n_routed_experts"),
	u("expert_used_count", "num_experts_per_tok", "num_experts_per_token", "top_k_experts"),
	u("expert_group_count", "n_group"),
	u("expert_group_used_count", "topk_group"),
	calc(gatingFuncKV),
	u("attention.key_length", "head_dim"),
	u("attention.value_length", "head_dim"),
	fileTypeRule,
}

// archKVs are the hyper-parameter recipes of the architectures the export
// writes, by GGUF architecture: each is the model class's
// set_gguf_parameters in convert_hf_to_gguf.py.
var archKVs = map[string][]kvRule{
	// LlamaModel (LLaMA, Mistral, Mixtral).
	"llama": append(append([]kvRule{}, textModelKVs...),
		u("vocab_size", "vocab_size").must(),
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			if v, _ := h.find("head_dim"); v != nil {
				n, err := h.u32("head_dim", v)
				return []gguf.KV{e.u32("rope.dimension_count", n)}, err
			}
			return headSizeKV(h, e, "rope.dimension_count", 1)
		})),
	// Qwen2Model: TextModel plus a pooling type only for embedding models.
	"qwen2": textModelKVs,
	// Qwen2MoeModel.
	"qwen2moe": append(append([]kvRule{}, textModelKVs...),
		u("expert_feed_forward_length", "moe_intermediate_size"),
		u("expert_shared_feed_forward_length", "shared_expert_intermediate_size")),
	// Gemma2Model replaces TextModel's list.
	"gemma2": {
		u("context_length", "max_position_embeddings").must(),
		u("embedding_length", "hidden_size").must(),
		blockCountRule,
		u("feed_forward_length", "intermediate_size").must(),
		u("attention.head_count", "num_attention_heads").must(),
		u("attention.head_count_kv", "num_key_value_heads", "num_attention_heads").must(),
		f("attention.layer_norm_rms_epsilon", "rms_norm_eps").must(),
		u("attention.key_length", "head_dim").must(),
		u("attention.value_length", "head_dim").must(),
		fileTypeRule,
		f("attn_logit_softcapping", "attn_logit_softcapping").must(),
		f("final_logit_softcapping", "final_logit_softcapping").must(),
		u("attention.sliding_window", "sliding_window").must(),
	},
	// Phi3MiniModel.
	"phi3": {
		u("context_length", "n_positions", "max_position_embeddings").must(),
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			v, ok := h.ropeParams()["original_max_position_embeddings"]
			if !ok {
				return nil, h.errf("original_max_position_embeddings", "missing (Phi-3 needs it)")
			}
			n, err := h.u32("original_max_position_embeddings", v)
			return []gguf.KV{e.u32("rope.scaling.original_context_length", n)}, err
		}),
		u("embedding_length", "hidden_size", "n_embd").must(),
		u("feed_forward_length", "intermediate_size").must(),
		blockCountRule,
		u("attention.head_count", "num_attention_heads", "n_head").must(),
		u("attention.head_count_kv", "num_key_value_heads", "n_head_kv").must(),
		f("attention.layer_norm_rms_epsilon", "rms_norm_eps").must(),
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			pct := 1.0
			if v, ok := h.ropeParams()["partial_rotary_factor"]; ok {
				var err error
				if pct, err = h.num("partial_rotary_factor", v); err != nil {
					return nil, err
				}
			}
			return headSizeKV(h, e, "rope.dimension_count", pct)
		}),
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			rp := h.ropeParams()
			if full, ok := rp["full_attention"].(map[string]any); ok {
				rp = full
			}
			theta, err := h.num("rope_theta", rp["rope_theta"])
			return []gguf.KV{e.f32("rope.freq_base", theta)}, err
		}),
		fileTypeRule,
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			v, _ := h.find("sliding_window")
			if v == nil {
				return []gguf.KV{e.u32("attention.sliding_window", 0)}, nil
			}
			n, err := h.u32("sliding_window", v)
			return []gguf.KV{e.u32("attention.sliding_window", n)}, err
		}),
	},
	// GPT2Model.
	"gpt2": {
		blockCountRule,
		u("context_length", "n_ctx").must(),
		u("embedding_length", "n_embd").must(),
		calc(func(h *hparams, e *kvEnv) ([]gguf.KV, error) {
			v, _ := h.find("n_embd")
			n, err := h.u32("n_embd", v)
			return []gguf.KV{e.u32("feed_forward_length", 4*n)}, err
		}),
		u("attention.head_count", "n_head").must(),
		f("attention.layer_norm_epsilon", "layer_norm_epsilon").must(),
		fileTypeRule,
	},
}

// headSizeKV writes int(pct*n_embd) // n_head.
func headSizeKV(h *hparams, e *kvEnv, key string, pct float64) ([]gguf.KV, error) {
	ev, ek := h.find("hidden_size", "n_embd")
	hv, hk := h.find("num_attention_heads", "n_head")
	embd, err := h.num(ek, ev)
	if err != nil {
		return nil, err
	}
	heads, err := h.u32(hk, hv)
	if err != nil || heads == 0 {
		return nil, h.errf("num_attention_heads", "%v is not a head count", hv)
	}
	return []gguf.KV{e.u32(key, uint32(int64(pct*embd)/int64(heads)))}, nil
}

func causalKV(h *hparams, e *kvEnv) ([]gguf.KV, error) {
	if v, ok := h.m["is_causal"].(bool); ok && !v {
		return []gguf.KV{gguf.Bool(e.prefix+"attention.causal", false)}, nil
	}
	return nil, nil
}

// ropeScalingKVs is the rope scaling part of TextModel.set_gguf_parameters.
func ropeScalingKVs(h *hparams, e *kvEnv) ([]gguf.KV, error) {
	rp := h.ropeParams()
	if full, ok := rp["full_attention"].(map[string]any); ok {
		rp = full
	}
	typ, _ := rp["rope_type"].(string)
	factorV, hasFactor := rp["factor"]
	hasFactor = hasFactor && factorV != nil
	var kvs []gguf.KV
	switch {
	case rp["rope_type"] == nil:
	case typ == "linear" && hasFactor:
		factor, err := h.num("rope_scaling.factor", factorV)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, gguf.String(e.prefix+"rope.scaling.type", "linear"), e.f32("rope.scaling.factor", factor))
	case typ == "yarn" && hasFactor:
		factor, err := h.num("rope_scaling.factor", factorV)
		if err != nil {
			return nil, err
		}
		orig, ok := rp["original_max_position_embeddings"]
		if !ok {
			return nil, h.errf("rope_scaling", "yarn without original_max_position_embeddings")
		}
		n, err := h.u32("rope_scaling.original_max_position_embeddings", orig)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, gguf.String(e.prefix+"rope.scaling.type", "yarn"), e.f32("rope.scaling.factor", factor),
			e.u32("rope.scaling.original_context_length", n))
		attn, ok := rp["attention_factor"]
		if !ok {
			attn = rp["attn_factor"]
		}
		for _, o := range []struct {
			key string
			v   any
		}{{"yarn_ext_factor", rp["extrapolation_factor"]}, {"yarn_attn_factor", attn},
			{"yarn_beta_fast", rp["beta_fast"]}, {"yarn_beta_slow", rp["beta_slow"]}} {
			if o.v == nil {
				continue
			}
			x, err := h.num("rope_scaling."+o.key, o.v)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, e.f32("rope.scaling."+o.key, x))
		}
	case typ == "su", typ == "longrope", strings.ToLower(typ) == "llama3", typ == "dynamic":
		return nil, h.errf("rope_scaling", "rope type %q: %w", typ, ErrExportUnsupported)
	}
	if _, ok := h.ropeParams()["mrope_section"]; ok {
		return nil, h.errf("rope_scaling", "mrope_section: %w", ErrExportUnsupported)
	}
	return kvs, nil
}

func ropeFreqKVs(h *hparams, e *kvEnv) ([]gguf.KV, error) {
	all := h.ropeParams()
	rp := all
	if full, ok := all["full_attention"].(map[string]any); ok {
		rp = full
	}
	var kvs []gguf.KV
	if v := rp["rope_theta"]; v != nil {
		theta, err := h.num("rope_theta", v)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, e.f32("rope.freq_base", theta))
	}
	if swa, ok := all["sliding_attention"].(map[string]any); ok && swa["rope_theta"] != nil {
		theta, err := h.num("sliding_attention.rope_theta", swa["rope_theta"])
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, e.f32("rope.freq_base_swa", theta))
	}
	return kvs, nil
}

func gatingFuncKV(h *hparams, e *kvEnv) ([]gguf.KV, error) {
	v, k := h.find("score_function", "scoring_func", "score_func", "moe_router_activation", "moe_router_activation_func", "expert_selection_fn")
	if v == nil {
		return nil, nil
	}
	// llama_expert_gating_func_type
	ids := map[string]uint32{"softmax": 1, "sigmoid": 2, "sqrtsoftplus": 4}
	s, _ := v.(string)
	id, ok := ids[s]
	if !ok {
		return nil, h.errf(k, "expert gating function %v: %w", v, ErrExportUnsupported)
	}
	return []gguf.KV{e.u32("expert_gating_func", id)}, nil
}

// hyperKVs evaluates an architecture's recipe.
func hyperKVs(h *hparams, arch string, fileType uint32) ([]gguf.KV, error) {
	rules, ok := archKVs[arch]
	if !ok {
		return nil, fmt.Errorf("export: %s: GGUF architecture %s: %w", h.source, arch, ErrExportUnsupported)
	}
	e := &kvEnv{prefix: arch + ".", fileType: fileType}
	var kvs []gguf.KV
	for _, r := range rules {
		if r.calc != nil {
			more, err := r.calc(h, e)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, more...)
			continue
		}
		v, k := h.find(r.from...)
		if k == "" && r.need {
			return nil, h.errf(r.from[0], "missing (convert_hf_to_gguf.py needs it for %s)", arch)
		}
		if v == nil {
			if r.need && k != "" {
				return nil, h.errf(k, "is null (convert_hf_to_gguf.py needs a value for %s)", arch)
			}
			continue
		}
		switch r.typ {
		case gguf.TypeUint32:
			n, err := h.u32(k, v)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, e.u32(r.key, n))
		case gguf.TypeFloat32:
			x, err := h.num(k, v)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, e.f32(r.key, x))
		}
	}
	return kvs, nil
}
