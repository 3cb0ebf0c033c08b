package mapping

import (
	"fmt"
	"math"
)

// ConfigFromGGUF derives a model config from GGUF key-value metadata
// ({arch}.block_count, {arch}.embedding_length, …), as any GGUF reader
// returns it: Go integers, floats, strings and slices. The config's
// model_type and architectures are those of the first registered
// architecture writing general.architecture.
func ConfigFromGGUF(kv map[string]any) (*ModelConfig, error) {
	g, ok := kv["general.architecture"].(string)
	if !ok || g == "" {
		return nil, fmt.Errorf("mapping: gguf metadata: general.architecture is missing or not a string: %w", ErrBadConfig)
	}
	c := &ModelConfig{Source: "gguf metadata", Extra: nil, keys: map[string]string{}}
	if archs := archsByGGUF(g); len(archs) > 0 {
		a := archs[0]
		if ggufInt(kv, g+".expert_count") > 0 {
			for _, x := range archs {
				if hasExperts(x) {
					a = x
					break
				}
			}
		}
		if len(a.ModelTypes) > 0 {
			c.ModelType = a.ModelTypes[0]
		}
		if len(a.HFClasses) > 0 {
			c.Architectures = []string{a.HFClasses[0]}
		}
	}
	ints := []struct {
		key string
		dst *int
		max int64
	}{
		{"embedding_length", &c.HiddenSize, maxDim},
		{"block_count", &c.NumLayers, maxLayers},
		{"attention.head_count", &c.NumHeads, maxDim},
		{"attention.head_count_kv", &c.NumKVHeads, maxDim},
		{"attention.key_length", &c.HeadDim, maxDim},
		{"feed_forward_length", &c.IntermediateSize, maxDim},
		{"context_length", &c.MaxPositions, maxCtx},
		{"vocab_size", &c.VocabSize, maxVocab},
		{"expert_count", &c.NumExperts, 1 << 16},
		{"expert_used_count", &c.NumExpertsPerTok, 1 << 16},
		{"expert_feed_forward_length", &c.MoEIntermediateSize, maxDim},
		{"expert_shared_feed_forward_length", &c.SharedExpertIntermediateSize, maxDim},
		{"expert_shared_count", &c.NumSharedExperts, 1 << 16},
		{"leading_dense_block_count", &c.FirstKDenseReplace, maxLayers},
		{"attention.q_lora_rank", &c.QLoraRank, maxDim},
		{"attention.kv_lora_rank", &c.KVLoraRank, maxDim},
		{"rope.dimension_count", &c.RotaryDim, maxDim},
		{"attention.relative_buckets_count", &c.RelAttnBuckets, 1 << 20},
		{"decoder_block_count", &c.NumDecoderLayers, maxLayers},
	}
	for _, f := range ints {
		key := g + "." + f.key
		v, present := kv[key]
		if !present {
			continue
		}
		n, ok := ggufNumber(v)
		if !ok || n != math.Trunc(n) || n < 0 || n > float64(f.max) {
			return nil, fmt.Errorf("mapping: gguf metadata: key %q: want a non-negative integer up to %d, got %v: %w", key, f.max, v, ErrBadConfig)
		}
		*f.dst = int(n)
	}
	for _, f := range []struct {
		key string
		dst *float64
	}{
		{"attention.layer_norm_rms_epsilon", &c.NormEps},
		{"attention.layer_norm_epsilon", &c.NormEps},
		{"rope.freq_base", &c.RopeTheta},
	} {
		key := g + "." + f.key
		v, present := kv[key]
		if !present {
			continue
		}
		n, ok := ggufNumber(v)
		if !ok || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
			return nil, fmt.Errorf("mapping: gguf metadata: key %q: want a finite number, got %v: %w", key, v, ErrBadConfig)
		}
		*f.dst = n
	}
	if c.VocabSize == 0 {
		if toks, ok := kv["tokenizer.ggml.tokens"].([]any); ok {
			c.VocabSize = len(toks)
		} else if toks, ok := kv["tokenizer.ggml.tokens"].([]string); ok {
			c.VocabSize = len(toks)
		}
	}
	if c.HeadDim > 0 && c.NumHeads > 0 && c.HeadDim*c.NumHeads == c.HiddenSize {
		c.HeadDim = 0 // the default; keep the written config minimal
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ggufNumber reads a GGUF numeric value; per-layer arrays (head_count_kv
// of some models) give their largest element.
func ggufNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		return 0, false
	case []any:
		best, ok := 0.0, len(x) > 0
		for _, e := range x {
			n, eok := ggufNumber(e)
			if !eok {
				return 0, false
			}
			best = math.Max(best, n)
		}
		return best, ok
	case []int32:
		best := 0.0
		for _, e := range x {
			best = math.Max(best, float64(e))
		}
		return best, len(x) > 0
	case []uint32:
		best := 0.0
		for _, e := range x {
			best = math.Max(best, float64(e))
		}
		return best, len(x) > 0
	case []int64:
		best := 0.0
		for _, e := range x {
			best = math.Max(best, float64(e))
		}
		return best, len(x) > 0
	}
	return 0, false
}

func ggufInt(kv map[string]any, key string) int64 {
	n, ok := ggufNumber(kv[key])
	if !ok || n < 0 || n > 1<<40 {
		return 0
	}
	return int64(n)
}
