package mapping

func init() {
	Register(&Arch{
		Name:       "starcoder2",
		GGUFArch:   "starcoder2",
		HFClasses:  []string{"Starcoder2ForCausalLM", "Starcoder2Model"},
		ModelTypes: []string{"starcoder2"},
		Note:       "LLaMA-style attention with biases everywhere, LayerNorm and a GELU MLP (c_fc, c_proj)",
		Defaults: map[string]any{
			"hidden_size": 3072, "num_hidden_layers": 30, "num_attention_heads": 24, "num_key_value_heads": 2,
			"intermediate_size": 12288, "vocab_size": 49152, "max_position_embeddings": 4096,
			"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm").bias(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm").bias(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").bias(),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").bias(),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj").bias(),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj").bias(),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm").bias(),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.c_fc").bias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.c_proj").bias(),
		},
		Skip: rotarySkip,
	})
}
