package mapping

func init() {
	Register(&Arch{
		Name:       "phi3",
		GGUFArch:   "phi3",
		HFClasses:  []string{"Phi3ForCausalLM", "Phi3Model"},
		ModelTypes: []string{"phi3"},
		Note:       "fused QKV and fused gate+up projections, kept fused in GGUF",
		Defaults: map[string]any{
			"hidden_size": 3072, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 8192, "vocab_size": 32064, "max_position_embeddings": 4096,
			"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm"),
			lin("blk.{bid}.attn_qkv", "(n_head + 2*n_head_kv)*head_dim, n_embd", hfL+"self_attn.qkv_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm"),
			lin("blk.{bid}.ffn_up", "2*n_ff, n_embd", hfL+"mlp.gate_up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
		},
		Skip: rotarySkip,
	})
}
