package mapping

func init() {
	Register(&Arch{
		Name:       "gptj",
		GGUFArch:   "gptj",
		HFClasses:  []string{"GPTJForCausalLM", "GPTJModel"},
		ModelTypes: []string{"gptj"},
		Note:       "parallel attention and MLP with one LayerNorm per block, output with bias",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 28, "num_attention_heads": 16, "vocab_size": 50400,
			"max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rotary_dim": 64,
			"tie_word_embeddings": false, "intermediate_size": "4*n_embd",
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "transformer.wte"),
			norm("blk.{bid}.attn_norm", "n_embd", "transformer.h.{bid}.ln_1").bias(),
			lin("blk.{bid}.attn_q", "n_embd, n_embd", "transformer.h.{bid}.attn.q_proj"),
			lin("blk.{bid}.attn_k", "n_embd, n_embd", "transformer.h.{bid}.attn.k_proj"),
			lin("blk.{bid}.attn_v", "n_embd, n_embd", "transformer.h.{bid}.attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", "transformer.h.{bid}.attn.out_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", "transformer.h.{bid}.mlp.fc_in").bias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", "transformer.h.{bid}.mlp.fc_out").bias(),
			norm("output_norm", "n_embd", "transformer.ln_f").bias(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt().bias(),
		},
		Skip:          []string{"transformer.h.{bid}.attn.bias", "transformer.h.{bid}.attn.masked_bias"},
		ImpliedPrefix: "transformer.",
	})
}
