package mapping

func init() {
	Register(&Arch{
		Name:       "olmo",
		GGUFArch:   "olmo",
		HFClasses:  []string{"OlmoForCausalLM", "OlmoModel"},
		ModelTypes: []string{"olmo"},
		Note:       "LLaMA names with non-parametric LayerNorm (no norm tensors); Q/K permuted like LLaMA",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 11008, "vocab_size": 50304, "max_position_embeddings": 2048,
			"rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").permute("n_head"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").permute("n_head_kv"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
		},
		Skip: rotarySkip,
	})
}
