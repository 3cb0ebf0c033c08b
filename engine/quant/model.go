package quant

import (
	"fmt"

	"mlmf/formats/gguf"
)

// ModelFromGGUF reads the hyper-parameters the rules need from a GGUF
// model's metadata: general.architecture, {arch}.block_count,
// {arch}.expert_count and the head counts (per-layer arrays give layer 0's,
// as llama_hparams::n_gqa(0) does).
func ModelFromGGUF(f *gguf.File) (Model, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return Model{}, fmt.Errorf("quant: %s: no general.architecture: %w", f.Name(), ErrInvalid)
	}
	m := Model{Arch: arch, Tensors: f.Tensors()}
	if f.Splits() > 1 {
		for _, t := range f.TensorInfos() {
			m.Splits = append(m.Splits, t.Split)
		}
	}
	n, ok := f.Uint(arch + ".block_count")
	if !ok || n == 0 || n > 1<<20 {
		return Model{}, fmt.Errorf("quant: %s: %s.block_count missing or invalid: %w", f.Name(), arch, ErrInvalid)
	}
	m.NLayer = int(n)
	if e, ok := f.Uint(arch + ".expert_count"); ok && e < 1<<20 {
		m.NExpert = int(e)
	}
	m.NHead = firstUint(f, arch+".attention.head_count")
	m.NHeadKV = m.NHead
	if _, ok := f.Get(arch + ".attention.head_count_kv"); ok {
		m.NHeadKV = firstUint(f, arch+".attention.head_count_kv")
	}
	return m, nil
}

func firstUint(f *gguf.File, key string) int {
	if v, ok := f.Uint(key); ok && v < 1<<20 {
		return int(v)
	}
	kv, ok := f.Get(key)
	if !ok {
		return 0
	}
	switch a := kv.Value.(type) {
	case []int32:
		if len(a) > 0 && a[0] >= 0 {
			return int(a[0])
		}
	case []uint32:
		if len(a) > 0 && a[0] < 1<<20 {
			return int(a[0])
		}
	}
	return 0
}
