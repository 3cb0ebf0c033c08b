package mapping

func init() {
	Register(&Arch{
		Name:       "gpt2",
		GGUFArch:   "gpt2",
		HFClasses:  []string{"GPT2LMHeadModel", "GPT2Model"},
		ModelTypes: []string{"gpt2"},
		Note:       "learned positions, LayerNorm with bias, Conv1D weights stored [in, out] (export transposes)",
		Defaults: map[string]any{
			"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "vocab_size": 50257,
			"max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
			"intermediate_size": "4*n_embd",
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "transformer.wte"),
			emb("position_embd", "n_ctx, n_embd", "transformer.wpe"),
			norm("blk.{bid}.attn_norm", "n_embd", "transformer.h.{bid}.ln_1").bias(),
			lin("blk.{bid}.attn_qkv", "n_embd, 3*n_embd", "transformer.h.{bid}.attn.c_attn").bias().transpose(),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", "transformer.h.{bid}.attn.c_proj").bias().transpose(),
			norm("blk.{bid}.ffn_norm", "n_embd", "transformer.h.{bid}.ln_2").bias(),
			lin("blk.{bid}.ffn_up", "n_embd, n_ff", "transformer.h.{bid}.mlp.c_fc").bias().transpose(),
			lin("blk.{bid}.ffn_down", "n_ff, n_embd", "transformer.h.{bid}.mlp.c_proj").bias().transpose(),
			norm("output_norm", "n_embd", "transformer.ln_f").bias(),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
		},
		Skip:          []string{"transformer.h.{bid}.attn.bias", "transformer.h.{bid}.attn.masked_bias"},
		ImpliedPrefix: "transformer.",
	})
}
