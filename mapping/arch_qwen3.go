package mapping

func init() {
	Register(&Arch{
		Name:       "qwen3",
		GGUFArch:   "qwen3",
		HFClasses:  []string{"Qwen3ForCausalLM", "Qwen3Model"},
		ModelTypes: []string{"qwen3"},
		Note:       "Qwen2 without Q/K/V biases, with per-head RMSNorm on Q and K",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "head_dim": 128,
			"intermediate_size": 22016, "vocab_size": 151936, "max_position_embeddings": 32768,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm"),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").optBias(),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").optBias(),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj").optBias(),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj").optBias(),
			norm("blk.{bid}.attn_q_norm", "head_dim", hfL+"self_attn.q_norm"),
			norm("blk.{bid}.attn_k_norm", "head_dim", hfL+"self_attn.k_norm"),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm"),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
		},
		Skip: rotarySkip,
	})
}
