package engine

import (
	"fmt"

	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/gguf"
)

// quantizeExport applies a llama-quantize preset to the tensors of an F32
// export: engine/quant plans the types over the exported tensor list as
// llama-quantize would over the F32 file (with the hyper-parameters from
// kvs), and each tensor is encoded straight in its planned type. Tensors
// come back in llama-quantize's order, with their sizes and the total.
func quantizeExport(src, arch string, kvs []gguf.KV, tensors []formats.Tensor, opt quant.Options) ([]formats.Tensor, []int64, int64, error) {
	u := func(key string) int {
		for _, kv := range kvs {
			if kv.Key == arch+"."+key {
				if v, ok := kv.Value.(uint32); ok {
					return int(v)
				}
			}
		}
		return 0
	}
	m := quant.Model{Arch: arch, NLayer: u("block_count"), NExpert: u("expert_count"), NHead: u("attention.head_count")}
	m.NHeadKV = m.NHead
	if n := u("attention.head_count_kv"); n > 0 {
		m.NHeadKV = n
	}
	byName := make(map[string]formats.Tensor, len(tensors))
	for _, t := range tensors {
		if t.DType != formats.F32 {
			return nil, nil, 0, fmt.Errorf("export: %s: tensor %q is %v before quantizing, want F32", src, t.Name, t.DType)
		}
		m.Tensors = append(m.Tensors, formats.TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape})
		byName[t.Name] = t
	}
	decisions, err := quant.PlanModel(m, opt)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("export: %s: %w", src, err)
	}
	out := make([]formats.Tensor, 0, len(decisions))
	sizes := make([]int64, 0, len(decisions))
	var total int64
	for _, d := range decisions {
		t := byName[d.Name]
		if e, ok := t.Data.(*exportData); ok {
			e.to = d.To
			e.validate = true
		} else if d.To != t.DType {
			// a generated tensor (rope factors): 1-D, kept F32 by the rules
			return nil, nil, 0, fmt.Errorf("export: %s: tensor %q as %v: %w", src, d.Name, d.To, ErrExportUnsupported)
		}
		t.DType = d.To
		size, err := d.To.ByteSize(t.Shape)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("export: %s: tensor %q as %v: %w", src, d.Name, d.To, err)
		}
		out = append(out, t)
		sizes = append(sizes, size)
		total += size
	}
	return out, sizes, total, nil
}
