package mapping

func init() {
	Register(&Arch{
		Name:       "falcon",
		GGUFArch:   "falcon",
		HFClasses:  []string{"FalconForCausalLM", "FalconModel", "RWForCausalLM"},
		ModelTypes: []string{"falcon", "RefinedWeb", "RefinedWebModel"},
		Note:       "parallel attention; fused QKV grouped per KV head in the new decoder (export regroups it)",
		Defaults: map[string]any{
			"hidden_size": 4544, "num_hidden_layers": 32, "num_attention_heads": 71, "vocab_size": 65024,
			"max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
			"tie_word_embeddings": true, "intermediate_size": "4*n_embd",
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "transformer.word_embeddings"),
			// New decoder: ln_mlp and ln_attn; Falcon-7B: input_layernorm only.
			norm("blk.{bid}.attn_norm", "n_embd", "transformer.h.{bid}.ln_mlp", "transformer.h.{bid}.input_layernorm").bias(),
			norm("blk.{bid}.attn_norm_2", "n_embd", "transformer.h.{bid}.ln_attn").bias().opt(),
			lin("blk.{bid}.attn_qkv", "(n_head + 2*n_head_kv)*head_dim, n_embd", "transformer.h.{bid}.self_attention.query_key_value").optBias().regroup("falcon"),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", "transformer.h.{bid}.self_attention.dense").optBias(),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", "transformer.h.{bid}.mlp.dense_h_to_4h").optBias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", "transformer.h.{bid}.mlp.dense_4h_to_h").optBias(),
			norm("output_norm", "n_embd", "transformer.ln_f").bias(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
		},
		ImpliedPrefix: "transformer.",
	})
}
