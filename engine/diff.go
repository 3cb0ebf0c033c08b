package engine

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"mlmf/formats"
	"mlmf/mapping"
)

// DiffRequest is `mlmf diff A B`: A is the reference the errors of B are
// measured against.
type DiffRequest struct {
	A, B string
	// Arch overrides architecture detection on both sides.
	Arch string
	// Workers is the number of tensors compared at once (GOMAXPROCS when 0).
	Workers int
}

// DiffSide describes one of the two checkpoints.
type DiffSide struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Arch   string `json:"arch,omitempty"`
}

// Diff statuses.
const (
	DiffEqual       = "equal"        // same shape, every value equal
	DiffDiffer      = "differ"       // same shape, values differ
	DiffShape       = "shape"        // shapes differ: values not compared
	DiffMissing     = "missing"      // in A only
	DiffExtra       = "extra"        // in B only
	DiffSkipped     = "skipped"      // on one side only, and dropped there on purpose (tied copies, buffers)
	DiffNotCompared = "not compared" // values cannot be decoded or a transform cannot be undone
)

// DiffRow is one canonical tensor of either side. The error columns have
// engine/preview.go's definitions with A as the source and B as the round
// trip: RMSE and max abs of B-A, SNR in dB, cosine similarity; non-finite
// values of A are left out.
type DiffRow struct {
	Name      string  `json:"name"`
	A         string  `json:"a,omitempty"`
	B         string  `json:"b,omitempty"`
	DTypeA    string  `json:"dtype_a,omitempty"`
	DTypeB    string  `json:"dtype_b,omitempty"`
	ShapeA    []int64 `json:"shape_a,omitempty"`
	ShapeB    []int64 `json:"shape_b,omitempty"`
	Status    string  `json:"status"`
	Elements  int64   `json:"elements"`
	RMSE      float64 `json:"rmse"`
	MaxAbs    float64 `json:"max_abs_error"`
	SNR       float64 `json:"snr_db"` // +Inf when equal
	Cosine    float64 `json:"cosine"`
	Transform string  `json:"transform,omitempty"`
	Note      string  `json:"note,omitempty"`
}

// DiffResult is the comparison, tensor by tensor, in A's order then B's
// extras, with the whole-model error over every compared tensor.
type DiffResult struct {
	A     DiffSide  `json:"a"`
	B     DiffSide  `json:"b"`
	Rows  []DiffRow `json:"tensors"`
	Total DiffRow   `json:"total"`
	// Missing are in A only, Extra in B only; ShapeDiffs and DTypeDiffs
	// name the tensors whose shape or dtype differs.
	Missing    []string `json:"missing"`
	Extra      []string `json:"extra"`
	ShapeDiffs []string `json:"shape_diffs"`
	DTypeDiffs []string `json:"dtype_diffs"`
	// Identical is true when both sides hold the same tensors with the
	// same shapes and values (dtypes may differ).
	Identical bool          `json:"identical"`
	Elapsed   time.Duration `json:"-"`
}

// Diff compares two checkpoints tensor by tensor under their canonical
// names, so that a Hugging Face directory and a GGUF made from it line up
// name by name. Where a GGUF stores a tensor transformed by the export
// (LLaMA's Q/K row permutation, GPT-2's transposed Conv1D, Gemma's norm+1),
// the transform is undone before values are compared. Values are decoded to
// float32 (dequantized for ggml types) a bounded chunk of rows at a time,
// several tensors at once; ctx is checked between chunks.
func Diff(ctx context.Context, req DiffRequest, progress func(Progress)) (*DiffResult, error) {
	start := time.Now()
	ra, err := formats.Open(req.A)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	rb, err := formats.Open(req.B)
	if err != nil {
		return nil, err
	}
	defer rb.Close()
	va, err := newCanonicalView(req.A, ra, req.Arch)
	if err != nil {
		return nil, err
	}
	vb, err := newCanonicalView(req.B, rb, req.Arch)
	if err != nil {
		return nil, err
	}
	res := &DiffResult{
		A:       DiffSide{Path: req.A, Format: ra.Format(), Arch: va.det.Arch},
		B:       DiffSide{Path: req.B, Format: rb.Format(), Arch: vb.det.Arch},
		Missing: []string{}, Extra: []string{}, ShapeDiffs: []string{}, DTypeDiffs: []string{},
	}
	skippedA, skippedB := skippedSet(va), skippedSet(vb)
	byKeyB := map[string]formats.TensorInfo{}
	for _, t := range rb.Tensors() {
		byKeyB[vb.keys[t.Name]] = t
	}
	type pair struct {
		row    int
		ta, tb formats.TensorInfo
	}
	var pairs []pair
	usedB := map[string]bool{}
	for _, ta := range ra.Tensors() {
		key := va.keys[ta.Name]
		row := DiffRow{Name: key, A: ta.Name, DTypeA: ta.DType.String(), ShapeA: va.hfShape(ta)}
		tb, ok := byKeyB[key]
		if !ok {
			row.Status = DiffMissing
			if skippedA[ta.Name] {
				row.Status, row.Note = DiffSkipped, "dropped on purpose by the mapping (tied copy or buffer)"
			} else {
				res.Missing = append(res.Missing, key)
			}
			res.Rows = append(res.Rows, row)
			continue
		}
		usedB[tb.Name] = true
		row.B, row.DTypeB, row.ShapeB = tb.Name, tb.DType.String(), vb.hfShape(tb)
		if ta.DType != tb.DType {
			res.DTypeDiffs = append(res.DTypeDiffs, key)
		}
		if !slices.Equal(row.ShapeA, row.ShapeB) {
			row.Status = DiffShape
			res.ShapeDiffs = append(res.ShapeDiffs, key)
		} else {
			row.Elements = ta.NumElements()
			pairs = append(pairs, pair{row: len(res.Rows), ta: ta, tb: tb})
		}
		res.Rows = append(res.Rows, row)
	}
	for _, tb := range rb.Tensors() {
		if usedB[tb.Name] {
			continue
		}
		key := vb.keys[tb.Name]
		row := DiffRow{Name: key, B: tb.Name, DTypeB: tb.DType.String(), ShapeB: vb.hfShape(tb), Status: DiffExtra}
		if skippedB[tb.Name] {
			row.Status, row.Note = DiffSkipped, "dropped on purpose by the mapping (tied copy or buffer)"
		} else {
			res.Extra = append(res.Extra, key)
		}
		res.Rows = append(res.Rows, row)
	}

	// Compare values, several tensors at once; rows are filled in place and
	// the totals merged in A's order afterwards.
	workers := req.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ms := make([]metrics, len(pairs))
	errs := make([]error, len(pairs))
	var total int64
	for _, p := range pairs {
		total += p.ta.Size + p.tb.Size
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	done := make(chan int, workers)
	var wg sync.WaitGroup
	for range min(workers, max(len(pairs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := pairs[i]
				ms[i], errs[i] = compareTensor(ctx, va, p.ta, vb, p.tb, &res.Rows[p.row])
				done <- i
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range pairs {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	var bytesDone int64
	finished := 0
	for i := range done {
		finished++
		bytesDone += pairs[i].ta.Size + pairs[i].tb.Size
		if progress != nil {
			progress(Progress{Tensor: pairs[i].ta.Name, Index: finished, Count: len(pairs), Bytes: bytesDone, TotalBytes: total, Elapsed: time.Since(start)})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var tot metrics
	for i, p := range pairs {
		row := &res.Rows[p.row]
		if errs[i] != nil {
			return nil, fmt.Errorf("diff: tensor %q (%s in %s, %s in %s): %w", row.Name, p.ta.Name, req.A, p.tb.Name, req.B, errs[i])
		}
		if row.Status != "" {
			continue // not compared, or compared byte for byte
		}
		m := ms[i]
		fillDiff(row, m)
		row.Status = DiffDiffer
		if m.errSq == 0 && m.maxAbs == 0 {
			row.Status = DiffEqual
		}
		tot.n += m.n
		tot.errSq += m.errSq
		tot.srcSq += m.srcSq
		tot.dstSq += m.dstSq
		tot.dot += m.dot
		tot.maxAbs = math.Max(tot.maxAbs, m.maxAbs)
	}
	res.Total = DiffRow{Name: "total", Elements: tot.n}
	fillDiff(&res.Total, tot)
	res.Identical = len(res.Missing) == 0 && len(res.Extra) == 0 && len(res.ShapeDiffs) == 0
	for _, r := range res.Rows {
		if r.Status == DiffDiffer || r.Status == DiffNotCompared {
			res.Identical = false
		}
	}
	res.Total.Status = DiffDiffer
	if res.Identical {
		res.Total.Status = DiffEqual
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// fillDiff sets a row's error columns with preview's definitions.
func fillDiff(row *DiffRow, m metrics) {
	var p PreviewRow
	m.fill(&p)
	if m.n == 0 {
		p.SNR, p.Cosine = math.Inf(1), 1
	}
	row.RMSE, row.MaxAbs, row.SNR, row.Cosine = p.RMSE, p.MaxAbs, p.SNR, p.Cosine
}

func skippedSet(v *canonicalView) map[string]bool {
	s := map[string]bool{}
	if v.report != nil {
		for _, n := range v.report.Skipped {
			s[n] = true
		}
	}
	return s
}

// hfShape is a tensor's shape in Hugging Face layout: GGUF tensors stored
// transposed by the export are transposed back.
func (v *canonicalView) hfShape(t formats.TensorInfo) []int64 {
	shape := append([]int64{}, t.Shape...)
	if tr := v.transforms[t.Name]; tr != nil && tr.Op == mapping.OpTranspose && len(shape) == 2 {
		shape[0], shape[1] = shape[1], shape[0]
	}
	return shape
}

// diffChunkBytes bounds the float32 rows each side decodes at a time.
const diffChunkBytes = 8 << 20

// layoutReader yields a tensor's values in HF layout, rows [r0, r0+k) at a
// time, undoing the export transform when undo is set.
type layoutReader struct {
	src        byteSource
	info       formats.TensorInfo
	rows, cols int64
	rowBytes   int64
	undo       *mapping.Transform
	heads      int64
	raw        []byte
	tmp        []float32
}

func newLayoutReader(v *canonicalView, t formats.TensorInfo, undo *mapping.Transform) (*layoutReader, error) {
	src, err := openTensorBytes(v.r, t.Name)
	if err != nil {
		return nil, err
	}
	want, err := t.DType.ByteSize(t.Shape)
	if err != nil {
		return nil, err
	}
	if want != t.Size {
		return nil, fmt.Errorf("%d bytes stored, %v %v needs %d: %w", t.Size, t.DType, t.Shape, want, formats.ErrCorrupt)
	}
	l := &layoutReader{src: src, info: t, undo: undo, rows: 1, cols: max(t.NumElements(), 1)}
	if len(t.Shape) >= 2 || len(t.Shape) == 1 && undo != nil && undo.Op == mapping.OpPermuteQK {
		// Rows along the first dimension (a permuted bias has rows of one).
		l.rows = t.Shape[0]
		l.cols = l.cols / max(l.rows, 1)
	}
	l.rowBytes = want / max(l.rows, 1)
	if undo != nil && undo.Op == mapping.OpPermuteQK {
		l.heads = v.vars[undo.Arg]
		if l.heads <= 0 || l.rows%(2*l.heads) != 0 {
			return nil, fmt.Errorf("%d rows cannot be un-permuted for %s=%d", l.rows, undo.Arg, l.heads)
		}
	}
	return l, nil
}

// unit is the row granularity of reads: a head for permuted tensors, the
// whole tensor for transposed ones, one row otherwise.
func (l *layoutReader) unit() int64 {
	switch {
	case l.undo != nil && l.undo.Op == mapping.OpPermuteQK:
		return l.rows / l.heads
	case l.undo != nil && l.undo.Op == mapping.OpTranspose:
		return l.rows
	}
	return 1
}

// read decodes rows [r0, r0+k) of the HF layout into dst (k*cols values).
func (l *layoutReader) read(dst []float32, r0, k int64) error {
	nb := k * l.rowBytes
	if int64(cap(l.raw)) < nb {
		l.raw = make([]byte, nb)
	}
	b, err := l.src.bytes(l.raw[:nb], r0*l.rowBytes)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if l.undo == nil {
		return decode(dst, b, l.info.DType)
	}
	switch l.undo.Op {
	case mapping.OpNormPlusOne:
		if err := decode(dst, b, l.info.DType); err != nil {
			return err
		}
		for i := range dst {
			dst[i]--
		}
		return nil
	case mapping.OpPermuteQK:
		if int64(cap(l.tmp)) < int64(len(dst)) {
			l.tmp = make([]float32, len(dst))
		}
		x := l.tmp[:len(dst)]
		if err := decode(x, b, l.info.DType); err != nil {
			return err
		}
		unpermuteQK(dst, x, int(k/(l.rows/l.heads)), int(l.cols))
		return nil
	case mapping.OpTranspose:
		// Stored [cols, rows] (GGUF layout of a HF [rows, cols] Conv1D).
		if int64(cap(l.tmp)) < int64(len(dst)) {
			l.tmp = make([]float32, len(dst))
		}
		x := l.tmp[:len(dst)]
		if err := decode(x, b, l.info.DType); err != nil {
			return err
		}
		// dst is HF [rows', cols'] = stored transposed; stored has
		// l.rows rows of l.cols.
		sr, sc := int(l.rows), int(l.cols)
		for i := 0; i < sr; i++ {
			for j := 0; j < sc; j++ {
				dst[j*sr+i] = x[i*sc+j]
			}
		}
		return nil
	}
	return fmt.Errorf("transform %s cannot be undone: %w", l.undo.Op, formats.ErrUnsupported)
}

// unpermuteQK is the inverse of permuteQK (export.go): it moves the rows of
// nHead heads of a Q or K projection from llama.cpp's interleaved rotary
// layout back to HF's rotate-half layout.
func unpermuteQK(dst, x []float32, nHead, cols int) {
	rows := len(x) / cols
	half := rows / nHead / 2
	for h := 0; h < nHead; h++ {
		base := h * 2 * half
		for j := 0; j < half; j++ {
			for i := 0; i < 2; i++ {
				stored := base + j*2 + i
				hf := base + i*half + j
				copy(dst[hf*cols:(hf+1)*cols], x[stored*cols:(stored+1)*cols])
			}
		}
	}
}

// undoable lists the export transforms diff can undo.
var undoable = map[string]bool{mapping.OpPermuteQK: true, mapping.OpTranspose: true, mapping.OpNormPlusOne: true}

// compareTensor measures B against A, filling the row's status and
// transform notes; values stream through a chunk of rows at a time.
func compareTensor(ctx context.Context, va *canonicalView, ta formats.TensorInfo, vb *canonicalView, tb formats.TensorInfo, row *DiffRow) (metrics, error) {
	var m metrics
	trA, trB := va.transforms[ta.Name], vb.transforms[tb.Name]
	if trA != nil && trB != nil && *trA == *trB {
		trA, trB = nil, nil // both stored the export's way: compare as stored
	}
	for side, tr := range map[string]*mapping.Transform{"A": trA, "B": trB} {
		if tr == nil {
			continue
		}
		desc := tr.Op
		if tr.Arg != "" {
			desc += "(" + tr.Arg + ")"
		}
		if !undoable[tr.Op] {
			row.Status, row.Note = DiffNotCompared, fmt.Sprintf("export transform %s of %s cannot be undone yet", desc, side)
			return m, nil
		}
		row.Transform = desc + " undone on " + side
	}
	if !decodable(ta.DType) || !decodable(tb.DType) {
		if ta.DType == tb.DType && trA == nil && trB == nil {
			return m, compareBytes(va, ta, vb, tb, row)
		}
		row.Status, row.Note = DiffNotCompared, fmt.Sprintf("values of %v or %v cannot be decoded", ta.DType, tb.DType)
		return m, nil
	}
	la, err := newLayoutReader(va, ta, trA)
	if err != nil {
		return m, fmt.Errorf("A: %w", err)
	}
	lb, err := newLayoutReader(vb, tb, trB)
	if err != nil {
		return m, fmt.Errorf("B: %w", err)
	}
	// Both sides have the same HF shape, so the same rows and columns
	// (a transposed side reads all rows at once).
	// Transposed and 1-D tensors are read whole.
	rows, cols := la.rows, la.cols
	chunk := int64(1)
	if trA != nil && trA.Op == mapping.OpTranspose || trB != nil && trB.Op == mapping.OpTranspose || len(ta.Shape) < 2 {
		rows, cols = 1, max(ta.NumElements(), 1)
	} else {
		unit := max(la.unit(), lb.unit())
		if rows%unit != 0 {
			unit = rows
		}
		chunk = min(max(unit, diffChunkBytes/(4*max(cols, 1))/unit*unit), rows)
	}
	x := make([]float32, chunk*cols)
	y := make([]float32, chunk*cols)
	for r0 := int64(0); r0 < rows; r0 += chunk {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		k := min(chunk, rows-r0)
		xa, yb := x[:k*cols], y[:k*cols]
		if err := readRows(la, xa, r0, k, rows); err != nil {
			return m, fmt.Errorf("A: %w", err)
		}
		if err := readRows(lb, yb, r0, k, rows); err != nil {
			return m, fmt.Errorf("B: %w", err)
		}
		for i := range xa {
			a, c := float64(xa[i]), float64(yb[i])
			if math.IsNaN(a) || math.IsInf(a, 0) {
				continue // as preview: non-finite sources have no error to measure
			}
			d := c - a
			m.errSq += d * d
			m.srcSq += a * a
			m.dstSq += c * c
			m.dot += a * c
			m.maxAbs = math.Max(m.maxAbs, math.Abs(d))
			m.n++
		}
	}
	return m, nil
}

// readRows reads rows [r0, r0+k) of a side whose tensor the caller views
// as rows×cols; a side read whole (rows == 1 in the caller's view while
// the reader has more) is read in one go.
func readRows(l *layoutReader, dst []float32, r0, k, rows int64) error {
	if rows == 1 && l.rows != 1 {
		return l.read(dst, 0, l.rows)
	}
	return l.read(dst, r0, k)
}

// compareBytes compares tensors whose values cannot be decoded byte for byte.
func compareBytes(va *canonicalView, ta formats.TensorInfo, vb *canonicalView, tb formats.TensorInfo, row *DiffRow) error {
	if ta.Size != tb.Size {
		row.Status = DiffDiffer
		return nil
	}
	sa, err := openTensorBytes(va.r, ta.Name)
	if err != nil {
		return err
	}
	sb, err := openTensorBytes(vb.r, tb.Name)
	if err != nil {
		return err
	}
	const chunk = 4 << 20
	ba, bb := make([]byte, min(chunk, ta.Size)), make([]byte, min(chunk, ta.Size))
	row.Status, row.Note = DiffEqual, "compared byte for byte (values cannot be decoded)"
	for off := int64(0); off < ta.Size; off += chunk {
		n := min(chunk, ta.Size-off)
		x, err := sa.bytes(ba[:n], off)
		if err != nil {
			return err
		}
		y, err := sb.bytes(bb[:n], off)
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			row.Status = DiffDiffer
			return nil
		}
	}
	return nil
}
