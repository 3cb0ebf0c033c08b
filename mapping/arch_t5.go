package mapping

func init() {
	const (
		e  = "encoder.block.{bid}.layer."
		d  = "decoder.block.{bid}.layer."
		dd = "n_layer_dec"
	)
	Register(&Arch{
		Name:       "t5",
		GGUFArch:   "t5",
		HFClasses:  []string{"T5ForConditionalGeneration", "T5Model"},
		ModelTypes: []string{"t5"},
		Note:       "encoder-decoder with relative position biases (first block only) and RMS norms",
		Defaults: map[string]any{
			"hidden_size": 512, "num_hidden_layers": 6, "num_attention_heads": 8, "head_dim": 64,
			"intermediate_size": 2048, "vocab_size": 32128, "rms_norm_eps": 1e-6,
			"tie_word_embeddings": true, "relative_attention_num_buckets": 32,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "shared"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),

			norm("enc.blk.{bid}.attn_norm", "n_embd", e+"0.layer_norm"),
			lin("enc.blk.{bid}.attn_q", "n_head*head_dim, n_embd", e+"0.SelfAttention.q"),
			lin("enc.blk.{bid}.attn_k", "n_head*head_dim, n_embd", e+"0.SelfAttention.k"),
			lin("enc.blk.{bid}.attn_v", "n_head*head_dim, n_embd", e+"0.SelfAttention.v"),
			lin("enc.blk.{bid}.attn_o", "n_embd, n_head*head_dim", e+"0.SelfAttention.o"),
			lin("enc.blk.{bid}.attn_rel_b", "n_rel_buckets, n_head", e+"0.SelfAttention.relative_attention_bias").opt().f32(),
			norm("enc.blk.{bid}.ffn_norm", "n_embd", e+"1.layer_norm"),
			lin("enc.blk.{bid}.ffn_gate", "n_ff, n_embd", e+"1.DenseReluDense.wi_0").opt(),
			lin("enc.blk.{bid}.ffn_up", "n_ff, n_embd", e+"1.DenseReluDense.wi_1", e+"1.DenseReluDense.wi"),
			lin("enc.blk.{bid}.ffn_down", "n_embd, n_ff", e+"1.DenseReluDense.wo"),
			norm("enc.output_norm", "n_embd", "encoder.final_layer_norm"),

			norm("dec.blk.{bid}.attn_norm", "n_embd", d+"0.layer_norm").blocks(dd),
			lin("dec.blk.{bid}.attn_q", "n_head*head_dim, n_embd", d+"0.SelfAttention.q").blocks(dd),
			lin("dec.blk.{bid}.attn_k", "n_head*head_dim, n_embd", d+"0.SelfAttention.k").blocks(dd),
			lin("dec.blk.{bid}.attn_v", "n_head*head_dim, n_embd", d+"0.SelfAttention.v").blocks(dd),
			lin("dec.blk.{bid}.attn_o", "n_embd, n_head*head_dim", d+"0.SelfAttention.o").blocks(dd),
			lin("dec.blk.{bid}.attn_rel_b", "n_rel_buckets, n_head", d+"0.SelfAttention.relative_attention_bias").opt().f32().blocks(dd),
			norm("dec.blk.{bid}.cross_attn_norm", "n_embd", d+"1.layer_norm").blocks(dd),
			lin("dec.blk.{bid}.cross_attn_q", "n_head*head_dim, n_embd", d+"1.EncDecAttention.q").blocks(dd),
			lin("dec.blk.{bid}.cross_attn_k", "n_head*head_dim, n_embd", d+"1.EncDecAttention.k").blocks(dd),
			lin("dec.blk.{bid}.cross_attn_v", "n_head*head_dim, n_embd", d+"1.EncDecAttention.v").blocks(dd),
			lin("dec.blk.{bid}.cross_attn_o", "n_embd, n_head*head_dim", d+"1.EncDecAttention.o").blocks(dd),
			lin("dec.blk.{bid}.cross_attn_rel_b", "n_rel_buckets, n_head", d+"1.EncDecAttention.relative_attention_bias").opt().f32().blocks(dd),
			norm("dec.blk.{bid}.ffn_norm", "n_embd", d+"2.layer_norm").blocks(dd),
			lin("dec.blk.{bid}.ffn_gate", "n_ff, n_embd", d+"2.DenseReluDense.wi_0").opt().blocks(dd),
			lin("dec.blk.{bid}.ffn_up", "n_ff, n_embd", d+"2.DenseReluDense.wi_1", d+"2.DenseReluDense.wi").blocks(dd),
			lin("dec.blk.{bid}.ffn_down", "n_embd, n_ff", d+"2.DenseReluDense.wo").blocks(dd),
			norm("dec.output_norm", "n_embd", "decoder.final_layer_norm"),
		},
		// Both stacks read the shared embedding.
		Skip: []string{"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"},
	})
}
