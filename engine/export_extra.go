package engine

import (
	"bytes"
	"io"
	"math"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

// extraTensor is a tensor the converter computes from the config rather
// than reads from the checkpoint (its generate_extra_tensors), always F32
// and 1-D.
type extraTensor struct {
	name   string
	values []float32
}

func (x extraTensor) tensor() formats.Tensor {
	b := make([]byte, 4*len(x.values))
	copy(b, f32Bytes(x.values))
	return formats.Tensor{Name: x.name, DType: formats.F32, Shape: []int64{int64(len(x.values))},
		Data: formats.SectionData{R: io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))}}
}

// archExtras are the architectures' generate_extra_tensors, by GGUF
// architecture. The converter runs it before the metadata, so the keys it
// sets come right after general.architecture and its tensors first.
var archExtras = map[string]func(h *hparams, prefix string) ([]extraTensor, []gguf.KV, error){
	"phi3": phi3RopeFactors,
}

// phi3RopeFactors is Phi3MiniModel.generate_extra_tensors: the long and
// short rope factors of a LongRoPE (or YaRN) model and its attention factor.
func phi3RopeFactors(h *hparams, prefix string) ([]extraTensor, []gguf.KV, error) {
	rp := h.ropeParams()
	long, _ := rp["long_factor"].([]any)
	if len(long) == 0 {
		return nil, nil, nil
	}
	ev, ek := h.find("hidden_size", "n_embd")
	hv, hk := h.find("num_attention_heads", "n_head")
	mv, mk := h.find("n_positions", "max_position_embeddings")
	embd, err := h.num(ek, ev)
	if err != nil {
		return nil, nil, err
	}
	heads, err := h.num(hk, hv)
	if err != nil || heads <= 0 {
		return nil, nil, h.errf("num_attention_heads", "%v is not a head count", hv)
	}
	maxPos, err := h.num(mk, mv)
	if err != nil {
		return nil, nil, err
	}
	orig, err := h.num("original_max_position_embeddings", rp["original_max_position_embeddings"])
	if err != nil || orig <= 0 {
		return nil, nil, h.errf("original_max_position_embeddings", "missing or not a length")
	}
	pct := 1.0
	if v, ok := rp["partial_rotary_factor"]; ok {
		if pct, err = h.num("partial_rotary_factor", v); err != nil {
			return nil, nil, err
		}
	}
	ropeDims := int64(pct*embd) / int64(heads)
	scale := maxPos / orig
	typ, _ := rp["rope_type"].(string)
	attn := 1.0
	switch typ {
	case "su", "longrope":
		if scale > 1 {
			attn = math.Sqrt(1 + math.Log(scale)/math.Log(orig))
		}
	case "yarn":
		if scale > 1 {
			attn = 0.1*math.Log(scale) + 1
		}
	case "":
		return nil, nil, h.errf("rope_scaling", "missing rope_type")
	default:
		return nil, nil, h.errf("rope_scaling", "rope type %q with long_factor: %w", typ, ErrExportUnsupported)
	}
	short, _ := rp["short_factor"].([]any)
	if len(long) != len(short) || int64(2*len(long)) != ropeDims {
		return nil, nil, h.errf("rope_scaling", "%d long and %d short factors, want %d each (rope dimensions / 2)", len(long), len(short), ropeDims/2)
	}
	conv := func(key string, xs []any) ([]float32, error) {
		out := make([]float32, len(xs))
		for i, x := range xs {
			f, err := h.num(key, x)
			if err != nil {
				return nil, err
			}
			out[i] = float32(f)
		}
		return out, nil
	}
	lf, err := conv("long_factor", long)
	if err != nil {
		return nil, nil, err
	}
	sf, err := conv("short_factor", short)
	if err != nil {
		return nil, nil, err
	}
	kvs := []gguf.KV{gguf.Float32(prefix+"rope.scaling.attn_factor", float32(attn))}
	return []extraTensor{{"rope_factors_long.weight", lf}, {"rope_factors_short.weight", sf}}, kvs, nil
}

// extrasFor evaluates the architecture's extra tensors, if any.
func extrasFor(h *hparams, arch string) ([]extraTensor, []gguf.KV, error) {
	if fn := archExtras[arch]; fn != nil {
		return fn(h, arch+".")
	}
	return nil, nil, nil
}
