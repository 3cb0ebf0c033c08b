package mapping

// deepseekTensors are the rules DeepSeek V2 and V3 share: multi-head latent
// attention (Q through an optional low-rank A/B pair, compressed KV with a
// decoupled rotary part) and a mixture of routed plus shared experts in all
// but the first first_k_dense_replace blocks, which keep a dense MLP. Block
// kind depends on the index, so the per-block MLP tensors are optional.
func deepseekTensors() []TensorRule {
	return []TensorRule{
		emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
		norm("output_norm", "n_embd", "model.norm"),
		emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
		norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm"),
		lin("blk.{bid}.attn_q", "n_head*(qk_nope_head_dim+qk_rope_head_dim), n_embd", hfL+"self_attn.q_proj").opt(),
		lin("blk.{bid}.attn_q_a", "q_lora_rank, n_embd", hfL+"self_attn.q_a_proj").opt(),
		norm("blk.{bid}.attn_q_a_norm", "q_lora_rank", hfL+"self_attn.q_a_layernorm").opt(),
		lin("blk.{bid}.attn_q_b", "n_head*(qk_nope_head_dim+qk_rope_head_dim), q_lora_rank", hfL+"self_attn.q_b_proj").opt(),
		lin("blk.{bid}.attn_kv_a_mqa", "kv_lora_rank+qk_rope_head_dim, n_embd", hfL+"self_attn.kv_a_proj_with_mqa"),
		norm("blk.{bid}.attn_kv_a_norm", "kv_lora_rank", hfL+"self_attn.kv_a_layernorm"),
		// Exported as separate K and V up-projections for absorbed MLA.
		{HF: []string{hfL + "self_attn.kv_b_proj"}, Shape: "n_head*(qk_nope_head_dim+v_head_dim), kv_lora_rank",
			Split: []string{"blk.{bid}.attn_k_b", "blk.{bid}.attn_v_b"}, Transform: Transform{Op: OpSplitKVB}},
		lin("blk.{bid}.attn_output", "n_embd, n_head*v_head_dim", hfL+"self_attn.o_proj"),
		norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm"),
		lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj").opt(),
		lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj").opt(),
		lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj").opt(),
		lin("blk.{bid}.ffn_gate_inp", "n_expert, n_embd", hfL+"mlp.gate").opt().f32(),
		fusedExperts("n_expert, 2*n_ff_exp, n_embd", hfL+"mlp.experts.gate_up_proj", "blk.{bid}.ffn_gate_exps", "blk.{bid}.ffn_up_exps").opt(),
		fusedExperts("n_expert, n_embd, n_ff_exp", hfL+"mlp.experts.down_proj", "blk.{bid}.ffn_down_exps").opt(),
		experts("blk.{bid}.ffn_gate_exps", "n_ff_exp, n_embd", hfL+"mlp.experts.{xid}.gate_proj").opt(),
		experts("blk.{bid}.ffn_up_exps", "n_ff_exp, n_embd", hfL+"mlp.experts.{xid}.up_proj").opt(),
		experts("blk.{bid}.ffn_down_exps", "n_embd, n_ff_exp", hfL+"mlp.experts.{xid}.down_proj").opt(),
		lin("blk.{bid}.ffn_gate_shexp", "n_ff_shexp, n_embd", hfL+"mlp.shared_experts.gate_proj").opt(),
		lin("blk.{bid}.ffn_up_shexp", "n_ff_shexp, n_embd", hfL+"mlp.shared_experts.up_proj").opt(),
		lin("blk.{bid}.ffn_down_shexp", "n_embd, n_ff_shexp", hfL+"mlp.shared_experts.down_proj").opt(),
	}
}

func init() {
	Register(&Arch{
		Name:       "deepseek_v2",
		GGUFArch:   "deepseek2",
		HFClasses:  []string{"DeepseekV2ForCausalLM", "DeepseekV2Model"},
		ModelTypes: []string{"deepseek_v2"},
		Note:       "multi-head latent attention and routed plus shared experts; softmax routing without score bias",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 11008, "vocab_size": 102400, "max_position_embeddings": 2048,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
			"num_local_experts": 64, "moe_intermediate_size": 1407, "n_shared_experts": 2,
			"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
		},
		Tensors: deepseekTensors(),
		Skip:    rotarySkip,
	})
}
