package mapping

// hfL is the block prefix of LlamaModel and the many models that copy it.
const hfL = "model.layers.{bid}."

// rotarySkip lists the rotary buffers older transformers saved; converters
// drop them.
var rotarySkip = []string{"model.layers.{bid}.self_attn.rotary_emb.inv_freq", "model.rotary_emb.inv_freq"}

func init() {
	Register(&Arch{
		Name:       "llama",
		GGUFArch:   "llama",
		HFClasses:  []string{"LlamaForCausalLM", "LlamaModel", "LLaMAForCausalLM"},
		ModelTypes: []string{"llama"},
		Note:       "RMSNorm, SwiGLU, rotary; Q/K rows permuted for llama.cpp's rotary layout",
		Defaults: map[string]any{
			"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
			"intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 2048,
			"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
		},
		Tensors: []TensorRule{
			emb("token_embd", "n_vocab, n_embd", "model.embed_tokens"),
			norm("output_norm", "n_embd", "model.norm"),
			emb("output", "n_vocab, n_embd", "lm_head").tied().opt(),
			norm("blk.{bid}.attn_norm", "n_embd", hfL+"input_layernorm"),
			lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", hfL+"self_attn.q_proj").optBias().permute("n_head"),
			lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", hfL+"self_attn.k_proj").optBias().permute("n_head_kv"),
			lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", hfL+"self_attn.v_proj").optBias(),
			lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", hfL+"self_attn.o_proj").optBias(),
			norm("blk.{bid}.ffn_norm", "n_embd", hfL+"post_attention_layernorm"),
			lin("blk.{bid}.ffn_gate", "n_ff, n_embd", hfL+"mlp.gate_proj").optBias(),
			lin("blk.{bid}.ffn_up", "n_ff, n_embd", hfL+"mlp.up_proj").optBias(),
			lin("blk.{bid}.ffn_down", "n_embd, n_ff", hfL+"mlp.down_proj").optBias(),
		},
		Skip: rotarySkip,
	})
}
