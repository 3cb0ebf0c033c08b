package engine

import (
	"context"
	"fmt"
	"io"
	"math"

	"mlmf/formats"
	"mlmf/formats/cast"
)

// Stats summarises the values of one tensor.
type Stats struct {
	Count  int64 // elements
	Finite int64 // elements that are neither NaN nor ±Inf
	NaN    int64
	PosInf int64
	NegInf int64
	Zero   int64
	// Min, Max, Mean and Std are over the finite elements (population
	// standard deviation); all zero when there are none.
	Min, Max, Mean, Std float64
	Hist                Histogram
}

// Histogram counts the finite elements in equal-width bins over [Min, Max].
// The last bin is closed on the right.
type Histogram struct {
	Min, Max float64
	Bins     []int64
}

// StatsOptions tunes ComputeStats.
type StatsOptions struct {
	// Bins is the histogram's bin count (DefaultBins when 0).
	Bins int
	// ChunkElems bounds the decode buffer (DefaultStatsChunk when 0).
	ChunkElems int
}

const (
	DefaultBins       = 32
	DefaultStatsChunk = 1 << 16
)

// ComputeStats streams the tensor's bytes twice in chunks of a few hundred
// KiB, decoding each through cast.ToFloat32: first for counts, extremes,
// mean and variance (Welford, merged per chunk in float64), then for the
// histogram over the finite range. Memory stays bounded by one chunk whatever
// the tensor's size; ctx is checked between chunks.
func ComputeStats(ctx context.Context, r formats.Reader, t formats.TensorInfo, opt StatsOptions) (*Stats, error) {
	if opt.Bins <= 0 {
		opt.Bins = DefaultBins
	}
	if opt.ChunkElems <= 0 {
		opt.ChunkElems = DefaultStatsChunk
	}
	if !cast.Supported(t.DType, formats.F32) {
		return nil, fmt.Errorf("stats: tensor %q: %v values cannot be decoded yet: %w", t.Name, t.DType, formats.ErrUnsupported)
	}
	n := t.NumElements()
	es := int64(t.DType.TypeSize())
	if want := n * es; want != t.Size {
		return nil, fmt.Errorf("stats: tensor %q: %d bytes for %d %v elements: %w", t.Name, t.Size, n, t.DType, formats.ErrCorrupt)
	}
	src, err := openTensorBytes(r, t.Name)
	if err != nil {
		return nil, err
	}
	chunk := int64(opt.ChunkElems)
	buf := make([]float32, min(chunk, max(n, 1)))
	raw := make([]byte, int64(len(buf))*es)
	each := func(fn func([]float32)) error {
		for off := int64(0); off < n; off += chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := min(chunk, n-off)
			b, err := src.bytes(raw[:k*es], off*es)
			if err != nil {
				return fmt.Errorf("stats: tensor %q: %w", t.Name, err)
			}
			if err := cast.ToFloat32(buf[:k], b, t.DType); err != nil {
				return fmt.Errorf("stats: tensor %q: %w", t.Name, err)
			}
			fn(buf[:k])
		}
		return nil
	}

	s := &Stats{Count: n, Min: math.Inf(1), Max: math.Inf(-1)}
	var mean, m2 float64
	err = each(func(v []float32) {
		var cn int64
		var cs float64
		cmin, cmax := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			f := float64(x)
			switch {
			case f != f:
				s.NaN++
				continue
			case math.IsInf(f, 1):
				s.PosInf++
				continue
			case math.IsInf(f, -1):
				s.NegInf++
				continue
			}
			if f == 0 {
				s.Zero++
			}
			cn++
			cs += f
			cmin = min(cmin, f)
			cmax = max(cmax, f)
		}
		if cn == 0 {
			return
		}
		cmean := cs / float64(cn)
		var cm2 float64
		for _, x := range v {
			f := float64(x)
			if f != f || math.IsInf(f, 0) {
				continue
			}
			d := f - cmean
			cm2 += d * d
		}
		// Chan et al.'s parallel merge of (count, mean, M2).
		tot := s.Finite + cn
		delta := cmean - mean
		mean += delta * float64(cn) / float64(tot)
		m2 += cm2 + delta*delta*float64(s.Finite)*float64(cn)/float64(tot)
		s.Finite = tot
		s.Min = min(s.Min, cmin)
		s.Max = max(s.Max, cmax)
	})
	if err != nil {
		return nil, err
	}
	s.Hist.Bins = make([]int64, opt.Bins)
	if s.Finite == 0 {
		s.Min, s.Max = 0, 0
		return s, nil
	}
	s.Mean = mean
	s.Std = math.Sqrt(m2 / float64(s.Finite))
	s.Hist.Min, s.Hist.Max = s.Min, s.Max
	width := (s.Max - s.Min) / float64(opt.Bins)
	last := opt.Bins - 1
	err = each(func(v []float32) {
		for _, x := range v {
			f := float64(x)
			if f != f || math.IsInf(f, 0) {
				continue
			}
			i := last
			if width > 0 {
				i = min(int((f-s.Min)/width), last)
			}
			s.Hist.Bins[i]++
		}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// DecodeF32 decodes a whole tensor to float32 (for previews of values).
func DecodeF32(r formats.Reader, t formats.TensorInfo) ([]float32, error) {
	if !cast.Supported(t.DType, formats.F32) {
		return nil, fmt.Errorf("decode: tensor %q: %v: %w", t.Name, t.DType, formats.ErrUnsupported)
	}
	n := t.NumElements()
	if n*int64(t.DType.TypeSize()) != t.Size {
		return nil, fmt.Errorf("decode: tensor %q: %w", t.Name, formats.ErrCorrupt)
	}
	src, err := openTensorBytes(r, t.Name)
	if err != nil {
		return nil, err
	}
	raw, err := src.bytes(make([]byte, t.Size), 0)
	if err != nil {
		return nil, fmt.Errorf("decode: tensor %q: %w", t.Name, err)
	}
	out := make([]float32, n)
	if err := cast.ToFloat32(out, raw, t.DType); err != nil {
		return nil, fmt.Errorf("decode: tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// byteSource reads tensor bytes from an mmap view when the reader has one,
// from a section reader otherwise.
type byteSource struct {
	view []byte
	sr   *io.SectionReader
}

func openTensorBytes(r formats.Reader, name string) (byteSource, error) {
	if v, ok := r.(formats.Viewer); ok {
		b, err := v.View(name)
		if err == nil {
			return byteSource{view: b}, nil
		}
	}
	sr, err := r.TensorReader(name)
	if err != nil {
		return byteSource{}, err
	}
	return byteSource{sr: sr}, nil
}

// bytes returns len(buf) bytes at off: a sub-slice of the view (buf unused)
// or buf filled from the section reader.
func (s byteSource) bytes(buf []byte, off int64) ([]byte, error) {
	if s.view != nil {
		end := off + int64(len(buf))
		if off < 0 || end > int64(len(s.view)) {
			return nil, io.ErrUnexpectedEOF
		}
		return s.view[off:end], nil
	}
	if _, err := s.sr.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}
