package engine

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"mlmf/formats"
	"mlmf/mapping"
)

func exportDemo(t *testing.T, dir string, typ formats.DType) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "demo-"+typ.String()+".gguf")
	if _, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: typ}, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func diffRow(t *testing.T, res *DiffResult, name string) DiffRow {
	t.Helper()
	for _, r := range res.Rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no row %s", name)
	return DiffRow{}
}

func TestUnpermuteQKInvertsPermuteQK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ rows, cols, heads int }{{8, 3, 1}, {8, 3, 2}, {16, 4, 4}, {12, 1, 3}, {64, 64, 4}} {
		x := make([]float32, tc.rows*tc.cols)
		for i := range x {
			x[i] = float32(i)
		}
		back := make([]float32, len(x))
		unpermuteQK(back, permuteQK(x, []int64{int64(tc.rows), int64(tc.cols)}, tc.heads), tc.heads, tc.cols)
		if !slices.Equal(back, x) {
			t.Fatalf("rows=%d cols=%d heads=%d: not the inverse", tc.rows, tc.cols, tc.heads)
		}
	}
}

// TestDiffSourceAndF32GGUF: an HF directory and its F32 GGUF are the same
// model: every tensor pairs up under its canonical name and, with Q/K's
// row permutation undone, every value is equal — in either order.
func TestDiffSourceAndF32GGUF(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	g := exportDemo(t, dir, formats.F32)
	for _, pair := range [][2]string{{dir, g}, {g, dir}} {
		res, err := Diff(context.Background(), DiffRequest{A: pair[0], B: pair[1], Workers: 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Identical || len(res.Rows) != 21 || res.Total.RMSE != 0 || res.Total.MaxAbs != 0 || res.Total.Cosine != 1 {
			t.Fatalf("%s vs %s: identical=%v rows=%d total %+v missing %v extra %v", pair[0], pair[1], res.Identical, len(res.Rows), res.Total, res.Missing, res.Extra)
		}
		for _, r := range res.Rows {
			if r.Status != DiffEqual || r.A == "" || r.B == "" {
				t.Errorf("row %+v", r)
			}
		}
		q := diffRow(t, res, "blk.1.attn_q.weight")
		if q.Transform == "" || !math.IsInf(q.SNR, 1) {
			t.Errorf("attn_q row %+v: want an undone permutation and an exact match", q)
		}
		if len(res.DTypeDiffs) != 21 {
			t.Errorf("BF16 vs F32: %d dtype differences, want 21", len(res.DTypeDiffs))
		}
	}
}

// TestDiffTransformMatters: comparing the permuted GGUF tensor without the
// undo would not match; the undone comparison must. Checked by comparing the
// GGUF against a copy of the source whose q_proj rows were permuted as the
// export does: now the values differ.
func TestDiffTransformMatters(t *testing.T) {
	t.Parallel()
	dir := editDemo(t, map[string]tensorEdit{
		"model.layers.0.self_attn.q_proj.weight": {vals: func(x []float32) {
			copy(x, permuteQK(x, []int64{64, 64}, 4))
		}},
	}, nil)
	g := exportDemo(t, demoDir(t), formats.F32)
	res, err := Diff(context.Background(), DiffRequest{A: dir, B: g}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Identical {
		t.Fatal("a permuted source compared equal to the export")
	}
	q := diffRow(t, res, "blk.0.attn_q.weight")
	if q.Status != DiffDiffer || q.MaxAbs == 0 {
		t.Fatalf("attn_q %+v", q)
	}
	if k := diffRow(t, res, "blk.0.attn_k.weight"); k.Status != DiffEqual {
		t.Fatalf("attn_k %+v", k)
	}
}

// TestDiffQ8MatchesPreview is the acceptance check: diff of the source and
// its Q8_0 GGUF reports, tensor by tensor, the errors preview predicts for
// --type Q8_0 (1-D tensors stay F32 in the GGUF: zero in both).
func TestDiffQ8MatchesPreview(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	g := exportDemo(t, dir, formats.Q8_0)
	res, err := Diff(context.Background(), DiffRequest{A: dir, B: g}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := Preview(context.Background(), PreviewRequest{Path: dir, Target: "Q8_0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byHF := map[string]DiffRow{}
	for _, r := range res.Rows {
		byHF[r.A] = r
	}
	if len(res.Missing)+len(res.Extra)+len(res.ShapeDiffs) != 0 {
		t.Fatalf("missing %v extra %v shapes %v", res.Missing, res.Extra, res.ShapeDiffs)
	}
	for _, p := range pre.Rows {
		d, ok := byHF[p.Name]
		if !ok {
			t.Fatalf("no diff row for %s", p.Name)
		}
		close := func(a, b float64) bool {
			return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
		}
		if p.Note == "unchanged" || p.ToName == p.FromName {
			if d.RMSE != 0 || d.MaxAbs != 0 {
				t.Errorf("%s: preview keeps it, diff says rmse %g max %g", p.Name, d.RMSE, d.MaxAbs)
			}
			continue
		}
		if !close(d.RMSE, p.RMSE) || d.MaxAbs != p.MaxAbs || !close(d.Cosine, p.Cosine) || !close(d.SNR, p.SNR) {
			t.Errorf("%s: diff rmse %g max %g snr %g cos %g; preview rmse %g max %g snr %g cos %g",
				p.Name, d.RMSE, d.MaxAbs, d.SNR, d.Cosine, p.RMSE, p.MaxAbs, p.SNR, p.Cosine)
		}
		if d.RMSE == 0 {
			t.Errorf("%s: Q8_0 round trip without error", p.Name)
		}
	}
}

func TestDiffMissingExtraShape(t *testing.T) {
	t.Parallel()
	a := demoDir(t)
	b := editDemo(t, map[string]tensorEdit{
		"model.layers.1.self_attn.v_proj.weight": {drop: true},
		"model.layers.1.mlp.gate_proj.weight":    {shape: []int64{64, 128}},
		"model.layers.0.mlp.up_proj.weight":      {vals: func(x []float32) { x[5] += 0.5 }},
	}, map[string][]float32{"model.extra_scale": {1, 2}})
	res, err := Diff(context.Background(), DiffRequest{A: a, B: b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Identical {
		t.Fatal("identical")
	}
	if !slices.Equal(res.Missing, []string{"blk.1.attn_v.weight"}) || !slices.Equal(res.Extra, []string{"model.extra_scale"}) ||
		!slices.Equal(res.ShapeDiffs, []string{"blk.1.ffn_gate.weight"}) || !slices.Equal(res.DTypeDiffs, []string{"blk.0.ffn_up.weight"}) {
		t.Fatalf("missing %v extra %v shapes %v dtypes %v", res.Missing, res.Extra, res.ShapeDiffs, res.DTypeDiffs)
	}
	up := diffRow(t, res, "blk.0.ffn_up.weight")
	if up.Status != DiffDiffer || math.Abs(up.MaxAbs-0.5) > 1e-2 || up.RMSE <= 0 || up.Cosine >= 1 {
		t.Fatalf("ffn_up %+v", up)
	}
	if r := diffRow(t, res, "blk.1.ffn_gate.weight"); r.Status != DiffShape {
		t.Fatalf("gate %+v", r)
	}
	if r := diffRow(t, res, "blk.0.ffn_down.weight"); r.Status != DiffEqual {
		t.Fatalf("down %+v", r)
	}
}

// TestCompareTensorUndoesTransforms drives compareTensor with in-memory
// sides: one in HF layout, the other stored as a GGUF export stores it
// (Q/K rows permuted, a 1-D bias permuted, a Conv1D weight transposed, a
// Gemma norm plus one). Undone, they compare equal; compared as stored,
// they would not.
func TestCompareTensorUndoesTransforms(t *testing.T) {
	t.Parallel()
	const rows, cols, heads = 16, 6, 2
	seq := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i%13) - 6 + float32(i%8)/8 // exact under +1
		}
		return x
	}
	transpose := func(x []float32, r, c int) []float32 {
		out := make([]float32, len(x))
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				out[j*r+i] = x[i*c+j]
			}
		}
		return out
	}
	plusOne := func(x []float32) []float32 {
		out := make([]float32, len(x))
		for i, v := range x {
			out[i] = v + 1
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		hfShape     []int64
		hf, stored  []float32
		storedShape []int64
		op, arg     string
	}{
		{"permute", []int64{rows, cols}, seq(rows * cols), permuteQK(seq(rows*cols), []int64{rows, cols}, heads), []int64{rows, cols}, mapping.OpPermuteQK, "n_head"},
		{"permute bias", []int64{rows}, seq(rows), permuteQK(seq(rows), []int64{rows}, heads), []int64{rows}, mapping.OpPermuteQK, "n_head"},
		{"transpose", []int64{cols, rows}, seq(rows * cols), transpose(seq(rows*cols), cols, rows), []int64{rows, cols}, mapping.OpTranspose, ""},
		{"norm plus one", []int64{rows}, seq(rows), plusOne(seq(rows)), []int64{rows}, mapping.OpNormPlusOne, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ia, ba := f32Tensor("a", tc.hf)
			ia.Shape = tc.hfShape
			ib, bb := f32Tensor("b", tc.stored)
			ib.Shape = tc.storedShape
			va := &canonicalView{r: &memReader{infos: []formats.TensorInfo{ia}, data: map[string][]byte{"a": ba}}, transforms: map[string]*mapping.Transform{}}
			vb := &canonicalView{r: viewReader{&memReader{infos: []formats.TensorInfo{ib}, data: map[string][]byte{"b": bb}}},
				transforms: map[string]*mapping.Transform{"b": {Op: tc.op, Arg: tc.arg}}, vars: map[string]int64{"n_head": heads}}
			if !slices.Equal(va.hfShape(ia), vb.hfShape(ib)) {
				t.Fatalf("HF shapes %v and %v", va.hfShape(ia), vb.hfShape(ib))
			}
			var row DiffRow
			m, err := compareTensor(context.Background(), va, ia, vb, ib, &row)
			if err != nil {
				t.Fatal(err)
			}
			if m.n != int64(len(tc.hf)) || m.errSq != 0 || m.maxAbs != 0 || row.Transform == "" || row.Status != "" {
				t.Fatalf("undone: %+v, row %+v", m, row)
			}
			// Without the undo the stored layout differs.
			delete(vb.transforms, "b")
			ib.Shape = tc.hfShape
			row = DiffRow{}
			m, err = compareTensor(context.Background(), va, ia, vb, ib, &row)
			if err != nil {
				t.Fatal(err)
			}
			if m.errSq == 0 {
				t.Fatal("as stored, the tensors compare equal: the test proves nothing")
			}
		})
	}
}
