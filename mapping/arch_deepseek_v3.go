package mapping

func init() {
	Register(&Arch{
		Name:       "deepseek_v3",
		GGUFArch:   "deepseek2",
		HFClasses:  []string{"DeepseekV3ForCausalLM", "DeepseekV3Model"},
		ModelTypes: []string{"deepseek_v3"},
		Note:       "DeepSeek V2 layout plus a per-expert routing score bias (exp_probs_b)",
		Defaults: map[string]any{
			"hidden_size": 7168, "num_hidden_layers": 61, "num_attention_heads": 128,
			"intermediate_size": 18432, "vocab_size": 129280, "max_position_embeddings": 4096,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
			"num_local_experts": 256, "num_experts_per_tok": 8, "moe_intermediate_size": 2048,
			"n_shared_experts": 1, "first_k_dense_replace": 3,
			"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
		},
		Tensors: append(deepseekTensors(),
			// transformers names it e_score_correction_bias (no .bias suffix);
			// GGUF stores it as a bias tensor.
			TensorRule{Canonical: "blk.{bid}.exp_probs_b", HF: []string{hfL + "mlp.gate.e_score_correction_bias"},
				Shape: "n_expert", Optional: true, Bare: true, BareSuffix: "bias", DType: DTypeF32},
		),
		Skip: rotarySkip,
	})
}
