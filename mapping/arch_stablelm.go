package mapping

func init() {
	Register(&Arch{
		Name:       "stablelm",
		GGUFArch:   "stablelm",
		HFClasses:  []string{"StableLmForCausalLM", "StableLmModel"},
		ModelTypes: []string{"stablelm", "stablelm_epoch"},
		Note:       "LLaMA names with LayerNorm biases, partial rotary, optional per-head Q/K norms (stacked on export)",
		Defaults: map[string]any{
			"hidden_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 6912, "vocab_size": 50304, "max_position_embeddings": 4096,
			"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm").bias(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm").bias(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").optBias(),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").optBias(),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj").optBias(),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			{Canonical: "blk.{bid}.attn_q_norm", HF: []string{hfL + "self_attn.q_layernorm.norms.{xid}"}, Shape: "head_dim",
				Optional: true, Count: "n_head", DType: DTypeF32, Transform: Transform{Op: OpStackExperts, Arg: "n_head"}},
			{Canonical: "blk.{bid}.attn_k_norm", HF: []string{hfL + "self_attn.k_layernorm.norms.{xid}"}, Shape: "head_dim",
				Optional: true, Count: "n_head_kv", DType: DTypeF32, Transform: Transform{Op: OpStackExperts, Arg: "n_head_kv"}},
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm").bias().opt(),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
		},
		Skip: rotarySkip,
	})
}
