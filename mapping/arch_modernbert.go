package mapping

func init() {
	Register(&Arch{
		Name:       "modernbert",
		GGUFArch:   "modern-bert",
		HFClasses:  []string{"ModernBertModel", "ModernBertForMaskedLM"},
		ModelTypes: []string{"modernbert"},
		Note:       "pre-norm encoder with fused QKV, GeGLU (fused Wi) and no norm before the first block's attention",
		Defaults: map[string]any{
			"hidden_size": 768, "num_hidden_layers": 22, "num_attention_heads": 12,
			"intermediate_size": 1152, "vocab_size": 50368, "max_position_embeddings": 8192,
			"rms_norm_eps": 1e-5, "tie_word_embeddings": true,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "embeddings.tok_embeddings"),
			norm("token_embd_norm", "n_embd", "embeddings.norm").optBias(),
			norm("blk.{bid}.attn_norm", "n_embd", "layers.{bid}.attn_norm").optBias().opt(),
			lin("blk.{bid}.attn_qkv", "3*n_embd, n_embd", "layers.{bid}.attn.Wqkv").optBias(),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", "layers.{bid}.attn.Wo").optBias(),
			norm("blk.{bid}.ffn_norm", "n_embd", "layers.{bid}.mlp_norm").optBias(),
			lin("blk.{bid}.ffn_up", "2*n_ff, n_embd", "layers.{bid}.mlp.Wi").optBias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", "layers.{bid}.mlp.Wo").optBias(),
			norm("output_norm", "n_embd", "final_norm").optBias(),
		},
		WrapPrefixes: []string{"model."},
	})
}
