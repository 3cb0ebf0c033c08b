package mapping

func init() {
	Register(&Arch{
		Name:       "gpt_neox",
		GGUFArch:   "gptneox",
		HFClasses:  []string{"GPTNeoXForCausalLM", "GPTNeoXModel"},
		ModelTypes: []string{"gpt_neox"},
		Note:       "parallel attention and MLP, fused per-head QKV (export regroups it)",
		Defaults: map[string]any{
			"hidden_size": 6144, "num_hidden_layers": 44, "num_attention_heads": 64,
			"intermediate_size": 24576, "vocab_size": 50432, "max_position_embeddings": 2048,
			"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "gpt_neox.embed_in"),
			norm("blk.{bid}.attn_norm", "n_embd", "gpt_neox.layers.{bid}.input_layernorm").bias(),
			norm("blk.{bid}.ffn_norm", "n_embd", "gpt_neox.layers.{bid}.post_attention_layernorm").bias(),
			lin("blk.{bid}.attn_qkv", "3*n_embd, n_embd", "gpt_neox.layers.{bid}.attention.query_key_value").bias().regroup("neox"),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", "gpt_neox.layers.{bid}.attention.dense").bias(),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", "gpt_neox.layers.{bid}.mlp.dense_h_to_4h").bias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", "gpt_neox.layers.{bid}.mlp.dense_4h_to_h").bias(),
			norm("output_norm", "n_embd", "gpt_neox.final_layer_norm").bias(),
			emb("output", "n_vocab, n_embd", "lm_head", "embed_out").tied().opt(),
		},
		Skip: []string{"gpt_neox.layers.{bid}.attention.bias", "gpt_neox.layers.{bid}.attention.masked_bias",
			"gpt_neox.layers.{bid}.attention.rotary_emb.inv_freq", "gpt_neox.rotary_emb.inv_freq"},
		ImpliedPrefix: "gpt_neox.",
	})
}
