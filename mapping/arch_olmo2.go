package mapping

func init() {
	Register(&Arch{
		Name:       "olmo2",
		GGUFArch:   "olmo2",
		HFClasses:  []string{"Olmo2ForCausalLM", "Olmo2Model"},
		ModelTypes: []string{"olmo2"},
		Note:       "post-norm blocks (norms after attention and MLP) and full-width Q/K RMSNorm",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 11008, "vocab_size": 50304, "max_position_embeddings": 2048,
			"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			norm("blk.{bid}.attn_q_norm", "n_head*head_dim", hfL+"self_attn.q_norm"),
			norm("blk.{bid}.attn_k_norm", "n_head_kv*head_dim", hfL+"self_attn.k_norm"),
			norm("blk.{bid}.post_attention_norm", "n_embd", hfL+"post_attention_layernorm"),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
			norm("blk.{bid}.post_ffw_norm", "n_embd", hfL+"post_feedforward_layernorm"),
		},
		Skip: rotarySkip,
	})
}
