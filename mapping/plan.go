package mapping

import "sort"

// PlanTensor is one tensor a GGUF export writes: its canonical name, its
// shape (row-major, HF order: GGUF stores the dims reversed), the HF
// tensors it is made of and the transform applied to them.
type PlanTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape,omitempty"`
	// Sources are the HF tensors, experts in index order.
	Sources   []string   `json:"sources"`
	Transform *Transform `json:"transform,omitempty"`
	// Part is the index of this tensor among the parts a fused source is
	// split into (SplitAxis of the rule); 0 otherwise.
	Part  int       `json:"part,omitempty"`
	Parts int       `json:"parts,omitempty"`
	DType DTypeHint `json:"dtype,omitempty"`
}

// Plan lists the tensors a GGUF export of the mapped checkpoint writes, in
// the order of their first source. Shapes are derived from the source shapes
// and the transforms (transpose, expert stacking, splitting); a tensor whose
// source shapes are unknown has no shape.
func (r *Report) Plan() []PlanTensor {
	type acc struct {
		pt      PlanTensor
		experts map[int]Mapping
		order   int
		axis    int
	}
	byName := map[string]*acc{}
	var names []string
	for i, mp := range r.Mapped {
		parts := mp.Parts
		if parts == nil {
			parts = []string{mp.Canonical}
		}
		for pi, p := range parts {
			a := byName[p]
			if a == nil {
				a = &acc{pt: PlanTensor{Name: p, Transform: mp.Transform, DType: mp.DType}, experts: map[int]Mapping{}, order: i}
				if len(parts) > 1 {
					a.pt.Part, a.pt.Parts = pi, len(parts)
					a.axis = 1
					if len(mp.Shape) < 2 {
						a.axis = 0
					}
				}
				byName[p] = a
				names = append(names, p)
			}
			x := -1
			if mp.Expert != nil {
				x = *mp.Expert
			}
			a.experts[x] = mp
		}
	}
	out := make([]PlanTensor, 0, len(names))
	for _, n := range names {
		a := byName[n]
		xs := make([]int, 0, len(a.experts))
		for x := range a.experts {
			xs = append(xs, x)
		}
		sort.Ints(xs)
		for _, x := range xs {
			a.pt.Sources = append(a.pt.Sources, a.experts[x].HF)
		}
		first := a.experts[xs[0]]
		if first.Shape != nil {
			shape := append([]int64(nil), first.Shape...)
			if a.pt.Transform != nil && a.pt.Transform.Op == OpTranspose && len(shape) == 2 {
				shape[0], shape[1] = shape[1], shape[0]
			}
			if xs[0] >= 0 {
				shape = append([]int64{int64(len(xs))}, shape...)
			}
			switch {
			case a.pt.Transform != nil && a.pt.Transform.Op == OpSplitKVB:
				shape = kvbShape(r.vars, a.pt.Part)
			case a.pt.Parts > 1 && a.axis < len(shape):
				shape[a.axis] /= int64(a.pt.Parts)
			}
			a.pt.Shape = shape
		}
		out = append(out, a.pt)
	}
	return out
}

// kvbShape is the shape of part 0 (attn_k_b) or 1 (attn_v_b) of DeepSeek's
// split kv_b_proj; nil when the config lacks the dimensions.
func kvbShape(v map[string]int64, part int) []int64 {
	h, r, nope, vh := v["n_head"], v["kv_lora_rank"], v["qk_nope_head_dim"], v["v_head_dim"]
	if h <= 0 || r <= 0 || nope <= 0 || vh <= 0 {
		return nil
	}
	if part == 0 {
		return []int64{h, r, nope}
	}
	return []int64{h, vh, r}
}
