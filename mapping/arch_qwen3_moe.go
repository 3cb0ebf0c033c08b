package mapping

func init() {
	Register(&Arch{
		Name:       "qwen3_moe",
		GGUFArch:   "qwen3moe",
		HFClasses:  []string{"Qwen3MoeForCausalLM", "Qwen3MoeModel"},
		ModelTypes: []string{"qwen3_moe"},
		Note:       "Qwen3 attention with routed experts and no shared expert",
		Defaults: map[string]any{
			"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 4,
			"intermediate_size": 6144, "vocab_size": 151936, "max_position_embeddings": 32768,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
			"num_local_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768,
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
			lin("blk.{bid}.ffn_gate_inp", "n_expert, n_embd", hfL+"mlp.gate").f32(),
			fusedExperts("n_expert, 2*n_ff_exp, n_embd", hfL+"mlp.experts.gate_up_proj", "blk.{bid}.ffn_gate_exps", "blk.{bid}.ffn_up_exps"),
			fusedExperts("n_expert, n_embd, n_ff_exp", hfL+"mlp.experts.down_proj", "blk.{bid}.ffn_down_exps"),
			experts("blk.{bid}.ffn_gate_exps", "n_ff_exp, n_embd", hfL+"mlp.experts.{xid}.gate_proj"),
			experts("blk.{bid}.ffn_up_exps", "n_ff_exp, n_embd", hfL+"mlp.experts.{xid}.up_proj"),
			experts("blk.{bid}.ffn_down_exps", "n_embd, n_ff_exp", hfL+"mlp.experts.{xid}.down_proj"),
		},
		Skip: rotarySkip,
	})
}
