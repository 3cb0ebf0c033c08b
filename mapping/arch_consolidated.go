package mapping

// consolidatedTensors is Meta's original LLaMA naming (consolidated.*.pth,
// params.json), which Mistral's own releases share. Q and K are already in
// the interleaved rotary layout llama.cpp uses, so unlike the HF naming they
// are not permuted on export.
func consolidatedTensors() []TensorRule {
	const l = "layers.{bid}."
	return []TensorRule{
		emb("token_embd", "n_vocab, n_embd", "tok_embeddings"),
		norm("output_norm", "n_embd", "norm"),
		emb("output", "n_vocab, n_embd", "output").opt(),
		norm("blk.{bid}.attn_norm", "n_embd", l+"attention_norm"),
		lin("blk.{bid}.attn_q", "n_head*head_dim, n_embd", l+"attention.wq"),
		lin("blk.{bid}.attn_k", "n_head_kv*head_dim, n_embd", l+"attention.wk"),
		lin("blk.{bid}.attn_v", "n_head_kv*head_dim, n_embd", l+"attention.wv"),
		lin("blk.{bid}.attn_output", "n_embd, n_head*head_dim", l+"attention.wo"),
		norm("blk.{bid}.ffn_norm", "n_embd", l+"ffn_norm"),
		lin("blk.{bid}.ffn_gate", "n_ff, n_embd", l+"feed_forward.w1"),
		lin("blk.{bid}.ffn_down", "n_embd, n_ff", l+"feed_forward.w2"),
		lin("blk.{bid}.ffn_up", "n_ff, n_embd", l+"feed_forward.w3"),
	}
}

func init() {
	Register(&Arch{
		Name:     "llama_consolidated",
		GGUFArch: "llama",
		Note:     "Meta's consolidated.*.pth naming (params.json); no Q/K permutation",
		Defaults: map[string]any{"rms_norm_eps": 1e-5, "rope_theta": 10000.0},
		Tensors:  consolidatedTensors(),
		Skip:     []string{"rope.freqs"},
	})
	Register(&Arch{
		Name:     "mistral_consolidated",
		GGUFArch: "llama",
		Note:     "Mistral's consolidated.safetensors naming, identical to Meta's",
		Defaults: map[string]any{"rms_norm_eps": 1e-5, "rope_theta": 1e6},
		Tensors:  consolidatedTensors(),
		Skip:     []string{"rope.freqs"},
	})
}
