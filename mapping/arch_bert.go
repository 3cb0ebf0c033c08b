package mapping

func init() {
	const l = "encoder.layer.{bid}."
	Register(&Arch{
		Name:       "bert",
		GGUFArch:   "bert",
		HFClasses:  []string{"BertModel", "BertForMaskedLM", "BertForSequenceClassification"},
		ModelTypes: []string{"bert"},
		Note:       "post-norm encoder with learned positions and token types",
		Defaults: map[string]any{
			"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
			"intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512,
			"rms_norm_eps": 1e-12, "type_vocab_size": 2, "tie_word_embeddings": true,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "embeddings.word_embeddings"),
			emb("position_embd", "n_ctx, n_embd", "embeddings.position_embeddings"),
			emb("token_types", "n_type_vocab, n_embd", "embeddings.token_type_embeddings").f32(),
			norm("token_embd_norm", "n_embd", "embeddings.LayerNorm").bias(),
			lin("blk.{bid}.attn_q", "n_embd, n_embd", l+"attention.self.query").bias(),
			lin("blk.{bid}.attn_k", "n_embd, n_embd", l+"attention.self.key").bias(),
			lin("blk.{bid}.attn_v", "n_embd, n_embd", l+"attention.self.value").bias(),
			lin("blk.{bid}.attn_output", "n_embd, n_embd", l+"attention.output.dense").bias(),
			norm("blk.{bid}.attn_output_norm", "n_embd", l+"attention.output.LayerNorm").bias(),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", l+"intermediate.dense").bias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", l+"output.dense").bias(),
			norm("blk.{bid}.layer_output_norm", "n_embd", l+"output.LayerNorm").bias(),
		},
		// Embedding models do not use the pooler; converters drop it.
		Skip:         []string{"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"},
		WrapPrefixes: []string{"bert."},
	})
}
