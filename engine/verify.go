package engine

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/ggml"
	"mlmf/mapping"
)

// VerifyRequest is `mlmf verify PATH [--arch A]`.
type VerifyRequest struct {
	Path string
	// Arch overrides architecture detection.
	Arch string
	// Workers is the number of tensors chunks scanned at once
	// (GOMAXPROCS when 0).
	Workers int
}

// TensorCheck is one tensor's verdict and value statistics. The statistics
// are over the finite elements, all zero when none was scanned.
type TensorCheck struct {
	Name      string  `json:"name"`
	Canonical string  `json:"canonical,omitempty"`
	DType     string  `json:"dtype"`
	Shape     []int64 `json:"shape"`
	Scanned   bool    `json:"scanned"`
	Count     int64   `json:"count"`
	NaN       int64   `json:"nan"`
	PosInf    int64   `json:"pos_inf"`
	NegInf    int64   `json:"neg_inf"`
	Zero      int64   `json:"zero"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	Problem   string  `json:"problem,omitempty"`
	Note      string  `json:"note,omitempty"`
}

// VerifyResult is the whole verdict: the detected architecture and mapping
// report, every tensor's check, and the problems (which make the
// checkpoint fail) and warnings (which do not).
type VerifyResult struct {
	Path      string            `json:"path"`
	Format    string            `json:"format"`
	Detection mapping.Detection `json:"detection"`
	Mapping   *mapping.Report   `json:"mapping,omitempty"`
	Tensors   []TensorCheck     `json:"tensors"`
	Problems  []string          `json:"problems"`
	Warnings  []string          `json:"warnings"`
	OK        bool              `json:"ok"`
	Elapsed   time.Duration     `json:"-"`
}

// scanChunkElems bounds one scan job (and each worker's decode buffer).
const scanChunkElems = 1 << 20

// Verify checks a checkpoint: its structure against config.json or the GGUF
// metadata (architecture, unmapped, missing and wrongly shaped tensors) and
// every value of every tensor (NaN and ±Inf, dequantizing ggml types),
// with per-tensor statistics. Tensors are scanned in chunks of at most
// scanChunkElems elements spread over Workers goroutines, so memory stays
// bounded by a few chunks whatever the model size; mapped bytes are dropped
// from the resident set once scanned. ctx is checked between chunks.
func Verify(ctx context.Context, req VerifyRequest, progress func(Progress)) (*VerifyResult, error) {
	start := time.Now()
	r, err := formats.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	v, err := newCanonicalView(req.Path, r, req.Arch)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Path: req.Path, Format: r.Format(), Detection: v.det, Mapping: v.report,
		Problems: []string{}, Warnings: []string{}}
	if v.configErr != "" {
		res.Problems = append(res.Problems, "config: "+v.configErr)
	}
	switch {
	case v.det.Arch == "":
		res.Warnings = append(res.Warnings, fmt.Sprintf("architecture not detected (%s): structure not checked; choose one with --arch", v.det.Reason))
	case v.det.Ambiguous:
		res.Warnings = append(res.Warnings, fmt.Sprintf("architecture ambiguous (%s): checked as %s", v.det.Reason, v.det.Arch))
	}
	res.Problems = append(res.Problems, structureProblems(v.report)...)

	infos := r.Tensors()
	res.Tensors = make([]TensorCheck, len(infos))
	for i, t := range infos {
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		tc := TensorCheck{Name: t.Name, DType: t.DType.String(), Shape: shape, Count: t.NumElements()}
		if k := v.keys[t.Name]; k != t.Name || v.gguf && v.report != nil {
			tc.Canonical = k
		}
		res.Tensors[i] = tc
	}
	if err := scanValues(ctx, r, infos, res.Tensors, req.Workers, start, progress); err != nil {
		return nil, err
	}
	for _, tc := range res.Tensors {
		switch {
		case tc.Problem != "":
			res.Problems = append(res.Problems, fmt.Sprintf("tensor %q: %s", tc.Name, tc.Problem))
		case !tc.Scanned && tc.Note != "":
			res.Warnings = append(res.Warnings, fmt.Sprintf("tensor %q: %s", tc.Name, tc.Note))
		}
	}
	res.OK = len(res.Problems) == 0
	res.Elapsed = time.Since(start)
	return res, nil
}

// scannable reports whether verify can read the values of d.
func scannable(d formats.DType) bool {
	if d.IsQuantized() {
		return ggml.CanDequantize(d)
	}
	return cast.Supported(d, formats.F32)
}

type scanJob struct {
	tensor int
	off, n int64 // elements
}

// scanValues fills the statistics of checks (one per info), chunk by chunk
// across workers. Per-chunk results are merged in chunk order, so the
// statistics do not depend on scheduling.
func scanValues(ctx context.Context, r formats.Reader, infos []formats.TensorInfo, checks []TensorCheck, workers int, start time.Time, progress func(Progress)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	srcs := make([]byteSource, len(infos))
	var jobs []scanJob
	first := make([]int, len(infos)+1) // jobs of tensor i: first[i] … first[i+1]-1
	var total int64
	for i, t := range infos {
		first[i] = len(jobs)
		c := &checks[i]
		want, err := t.DType.ByteSize(t.Shape)
		switch {
		case err != nil:
			c.Problem = fmt.Sprintf("shape %v of %v: %v", t.Shape, t.DType, err)
			continue
		case want != t.Size:
			c.Problem = fmt.Sprintf("%d bytes stored, %v %v needs %d", t.Size, t.DType, t.Shape, want)
			continue
		case !scannable(t.DType):
			c.Note = fmt.Sprintf("values not scanned: %v cannot be decoded", t.DType)
			continue
		}
		src, err := openTensorBytes(r, t.Name)
		if err != nil {
			c.Problem = err.Error()
			continue
		}
		srcs[i] = src
		c.Scanned = true
		n := t.NumElements()
		unit := int64(1)
		if t.DType.IsQuantized() && len(t.Shape) > 0 {
			unit = max(t.Shape[len(t.Shape)-1], 1) // whole rows: whole blocks
		}
		chunk := max(unit, scanChunkElems/unit*unit)
		for off := int64(0); off < n; off += chunk {
			jobs = append(jobs, scanJob{tensor: i, off: off, n: min(chunk, n-off)})
		}
		total += t.Size
	}
	first[len(infos)] = len(jobs)

	accs := make([]valueAcc, len(jobs))
	errs := make([]error, len(jobs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	done := make(chan int, workers)
	var wg sync.WaitGroup
	for range min(workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw []byte
			var buf []float32
			for j := range next {
				jb := jobs[j]
				t := infos[jb.tensor]
				errs[j] = scanChunk(&accs[j], srcs[jb.tensor], t.DType, jb.off, jb.n, &raw, &buf)
				done <- j
			}
		}()
	}
	go func() {
		defer close(next)
		for j := range jobs {
			select {
			case next <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	left := make([]int, len(infos))
	for i := range infos {
		left[i] = first[i+1] - first[i]
	}
	var bytes int64
	finished := 0
	for j := range done {
		ti := jobs[j].tensor
		left[ti]--
		bytes += chunkBytes(infos[ti].DType, jobs[j].n)
		if left[ti] == 0 {
			finished++
			if progress != nil {
				progress(Progress{Tensor: infos[ti].Name, Index: finished, Count: len(infos), Bytes: min(bytes, total), TotalBytes: total, Elapsed: time.Since(start)})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range infos {
		c := &checks[i]
		if !c.Scanned {
			continue
		}
		var a valueAcc
		for j := first[i]; j < first[i+1]; j++ {
			if errs[j] != nil && c.Problem == "" {
				c.Problem = errs[j].Error()
			}
			a.merge(accs[j])
		}
		a.fill(c)
		if c.Problem == "" && (c.NaN > 0 || c.PosInf > 0 || c.NegInf > 0) {
			c.Problem = fmt.Sprintf("%d NaN, %d +Inf, %d -Inf of %d values", c.NaN, c.PosInf, c.NegInf, c.Count)
		}
	}
	return nil
}

func chunkBytes(d formats.DType, n int64) int64 {
	b, err := d.ByteSize([]int64{n})
	if err != nil {
		return 0
	}
	return b
}

// scanChunk decodes elements [off, off+n) of a tensor into *buf and adds
// them to a. raw and buf are the worker's reusable buffers.
func scanChunk(a *valueAcc, src byteSource, d formats.DType, off, n int64, raw *[]byte, buf *[]float32) error {
	boff, err := d.ByteSize([]int64{off})
	if err != nil {
		return err
	}
	nb, err := d.ByteSize([]int64{n})
	if err != nil {
		return err
	}
	if int64(cap(*raw)) < nb {
		*raw = make([]byte, nb)
	}
	if int64(cap(*buf)) < n {
		*buf = make([]float32, n)
	}
	b, err := src.bytes((*raw)[:nb], boff)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	x := (*buf)[:n]
	if err := decode(x, b, d); err != nil {
		return err
	}
	if src.view != nil {
		dropPages(b)
	}
	a.add(x)
	return nil
}

// valueAcc accumulates counts, extremes, mean and M2 (for the variance) of
// float32 values; accumulators of separate chunks merge exactly as
// ComputeStats merges its chunks (Chan et al.).
type valueAcc struct {
	n, finite, nan, posInf, negInf, zero int64
	min, max, mean, m2                   float64
}

func (a *valueAcc) add(v []float32) {
	var c valueAcc
	c.n = int64(len(v))
	c.min, c.max = math.Inf(1), math.Inf(-1)
	var sum float64
	for _, x := range v {
		f := float64(x)
		switch {
		case f != f:
			c.nan++
			continue
		case math.IsInf(f, 1):
			c.posInf++
			continue
		case math.IsInf(f, -1):
			c.negInf++
			continue
		}
		if f == 0 {
			c.zero++
		}
		c.finite++
		sum += f
		c.min = min(c.min, f)
		c.max = max(c.max, f)
	}
	if c.finite > 0 {
		c.mean = sum / float64(c.finite)
		for _, x := range v {
			f := float64(x)
			if f != f || math.IsInf(f, 0) {
				continue
			}
			d := f - c.mean
			c.m2 += d * d
		}
	}
	a.merge(c)
}

func (a *valueAcc) merge(b valueAcc) {
	a.n += b.n
	a.nan += b.nan
	a.posInf += b.posInf
	a.negInf += b.negInf
	a.zero += b.zero
	if b.finite == 0 {
		return
	}
	if a.finite == 0 {
		a.finite, a.min, a.max, a.mean, a.m2 = b.finite, b.min, b.max, b.mean, b.m2
		return
	}
	tot := a.finite + b.finite
	delta := b.mean - a.mean
	a.mean += delta * float64(b.finite) / float64(tot)
	a.m2 += b.m2 + delta*delta*float64(a.finite)*float64(b.finite)/float64(tot)
	a.finite = tot
	a.min = min(a.min, b.min)
	a.max = max(a.max, b.max)
}

func (a *valueAcc) fill(c *TensorCheck) {
	c.NaN, c.PosInf, c.NegInf, c.Zero = a.nan, a.posInf, a.negInf, a.zero
	if a.finite == 0 {
		return
	}
	c.Min, c.Max, c.Mean = a.min, a.max, a.mean
	c.Std = math.Sqrt(a.m2 / float64(a.finite))
}
