package mapping

func init() {
	Register(&Arch{
		Name:       "mixtral",
		GGUFArch:   "llama",
		HFClasses:  []string{"MixtralForCausalLM", "MixtralModel"},
		ModelTypes: []string{"mixtral"},
		Note:       "Mistral attention with a sparse mixture of SwiGLU experts; experts stacked into ffn_*_exps",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
			"intermediate_size": 14336, "vocab_size": 32000, "max_position_embeddings": 131072,
			"rms_norm_eps": 1e-5, "rope_theta": 1e6, "tie_word_embeddings": false,
			"num_local_experts": 8, "num_experts_per_tok": 2,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm"),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").permute("n_head"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").permute("n_head_kv"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm"),
			lin("blk.{bid}.ffn_gate_inp", "n_expert, n_embd", hfL+"mlp.gate", hfL+"block_sparse_moe.gate").f32(),
			// transformers 5 keeps the experts of a block fused in two parameters.
			fusedExperts("n_expert, 2*n_ff, n_embd", hfL+"mlp.experts.gate_up_proj", "blk.{bid}.ffn_gate_exps", "blk.{bid}.ffn_up_exps"),
			fusedExperts("n_expert, n_embd, n_ff", hfL+"mlp.experts.down_proj", "blk.{bid}.ffn_down_exps"),
			// Checkpoints on the Hub keep one module per expert.
			experts("blk.{bid}.ffn_gate_exps", "n_ff, n_embd", hfL+"block_sparse_moe.experts.{xid}.w1"),
			experts("blk.{bid}.ffn_down_exps", "n_embd, n_ff", hfL+"block_sparse_moe.experts.{xid}.w2"),
			experts("blk.{bid}.ffn_up_exps", "n_ff, n_embd", hfL+"block_sparse_moe.experts.{xid}.w3"),
		},
		Skip: rotarySkip,
	})
}
