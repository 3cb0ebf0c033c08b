package mapping

func init() {
	Register(&Arch{
		Name:       "gemma",
		GGUFArch:   "gemma",
		HFClasses:  []string{"GemmaForCausalLM", "GemmaModel"},
		ModelTypes: []string{"gemma"},
		Note:       "LLaMA names; RMSNorm weights stored as w-1 (export adds 1); output tied to the embedding",
		Defaults: map[string]any{
			"hidden_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16, "head_dim": 256,
			"intermediate_size": 24576, "vocab_size": 256000, "max_position_embeddings": 8192,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm").plusOne(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm").plusOne(),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj"),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj"),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm").plusOne(),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj"),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj"),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj"),
		},
		// The output projection is the embedding: llama.cpp reads token_embd.
		Skip: append([]string{"lm_head.weight"}, rotarySkip...),
	})
}
