package mapping

func init() {
	Register(&Arch{
		Name:       "gemma3",
		GGUFArch:   "gemma3",
		HFClasses:  []string{"Gemma3ForCausalLM", "Gemma3TextModel"},
		ModelTypes: []string{"gemma3_text", "gemma3"},
		Note:       "Gemma 2 sandwich norms plus per-head Q/K RMSNorm (text model)",
		Defaults: map[string]any{
			"hidden_size": 2304, "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
			"head_dim": 256, "intermediate_size": 9216, "vocab_size": 262208, "max_position_embeddings": 131072,
			"rms_norm_eps": 1e-6, "rope_theta": 1e6, "tie_word_embeddings": true,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm").plusOne(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm").plusOne(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			norm("blk.{bid}.attn_q_norm", "head_dim", hfL+"self_attn.q_norm").plusOne(),
			norm("blk.{bid}.attn_k_norm", "head_dim", hfL+"self_attn.k_norm").plusOne(),
			norm("blk.{bid}.post_attention_norm", "n_embd", hfL+"post_attention_layernorm").plusOne(),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"pre_feedforward_layernorm").plusOne(),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
			norm("blk.{bid}.post_ffw_norm", "n_embd", hfL+"post_feedforward_layernorm").plusOne(),
		},
		Skip: rotarySkip,
	})
}
