package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"

	"mlmf/formats"
)

// memReader is an in-memory formats.Reader for tests.
type memReader struct {
	infos []formats.TensorInfo
	data  map[string][]byte
	view  bool
}

func (m *memReader) Format() string                { return "mem" }
func (m *memReader) Tensors() []formats.TensorInfo { return m.infos }
func (m *memReader) Metadata() map[string]any      { return nil }
func (m *memReader) Close() error                  { return nil }
func (m *memReader) TensorReader(name string) (*io.SectionReader, error) {
	b, ok := m.data[name]
	if !ok {
		return nil, formats.ErrNotFound
	}
	return io.NewSectionReader(bytesReaderAt(b), 0, int64(len(b))), nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// viewReader adds the zero-copy Viewer path.
type viewReader struct{ *memReader }

func (v viewReader) View(name string) ([]byte, error) { return v.data[name], nil }

func f32Tensor(name string, vals []float32) (formats.TensorInfo, []byte) {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return formats.TensorInfo{Name: name, DType: formats.F32, Shape: []int64{int64(len(vals))}, Size: int64(len(b))}, b
}

func TestComputeStats(t *testing.T) {
	t.Parallel()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	vals := []float32{1, 2, 3, 4, 0, nan, inf, -inf, 0, -6}
	info, b := f32Tensor("w", vals)
	mr := &memReader{infos: []formats.TensorInfo{info}, data: map[string][]byte{"w": b}}
	for _, tc := range []struct {
		name  string
		r     formats.Reader
		chunk int
	}{
		{"section-reader/one-chunk", mr, 0},
		{"section-reader/chunk-3", mr, 3},
		{"view/chunk-1", viewReader{mr}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ComputeStats(context.Background(), tc.r, info, StatsOptions{Bins: 4, ChunkElems: tc.chunk})
			if err != nil {
				t.Fatal(err)
			}
			// finite: 1 2 3 4 0 0 -6 → mean 4/7
			mean := 4.0 / 7
			var v float64
			for _, x := range []float64{1, 2, 3, 4, 0, 0, -6} {
				v += (x - mean) * (x - mean)
			}
			std := math.Sqrt(v / 7)
			if s.Count != 10 || s.Finite != 7 || s.NaN != 1 || s.PosInf != 1 || s.NegInf != 1 || s.Zero != 2 {
				t.Errorf("counts %+v", s)
			}
			if s.Min != -6 || s.Max != 4 || math.Abs(s.Mean-mean) > 1e-12 || math.Abs(s.Std-std) > 1e-12 {
				t.Errorf("min %v max %v mean %v (want %v) std %v (want %v)", s.Min, s.Max, s.Mean, mean, s.Std, std)
			}
			// bins of width 2.5 over [-6, 4]: [-6,-3.5) [-3.5,-1) [-1,1.5) [1.5,4]
			want := []int64{1, 0, 3, 3}
			for i := range want {
				if s.Hist.Bins[i] != want[i] {
					t.Errorf("histogram %v, want %v", s.Hist.Bins, want)
					break
				}
			}
		})
	}
}

func TestComputeStatsBF16AndEdges(t *testing.T) {
	t.Parallel()
	// BF16 1.0 = 0x3F80, -2.0 = 0xC000
	b := []byte{0x80, 0x3F, 0x00, 0xC0}
	info := formats.TensorInfo{Name: "b", DType: formats.BF16, Shape: []int64{2}, Size: 4}
	r := &memReader{infos: []formats.TensorInfo{info}, data: map[string][]byte{"b": b}}
	s, err := ComputeStats(context.Background(), r, info, StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Min != -2 || s.Max != 1 || s.Mean != -0.5 || len(s.Hist.Bins) != DefaultBins {
		t.Errorf("bf16 stats %+v", s)
	}

	// All NaN: no finite values, zeros everywhere, no panic.
	info2, b2 := f32Tensor("n", []float32{float32(math.NaN())})
	r.infos, r.data["n"] = append(r.infos, info2), b2
	s, err = ComputeStats(context.Background(), r, info2, StatsOptions{})
	if err != nil || s.Finite != 0 || s.NaN != 1 || s.Min != 0 || s.Max != 0 {
		t.Errorf("all-NaN stats %+v err %v", s, err)
	}

	// Constant tensor: everything in the last bin.
	info3, b3 := f32Tensor("c", []float32{5, 5, 5})
	r.data["c"] = b3
	s, err = ComputeStats(context.Background(), r, info3, StatsOptions{Bins: 3})
	if err != nil || s.Hist.Bins[2] != 3 || s.Std != 0 {
		t.Errorf("constant stats %+v err %v", s, err)
	}

	// Quantized types are refused until a decoder exists.
	q := formats.TensorInfo{Name: "q", DType: formats.Q4_0, Shape: []int64{32}, Size: 18}
	if _, err := ComputeStats(context.Background(), r, q, StatsOptions{}); !errors.Is(err, formats.ErrUnsupported) {
		t.Errorf("Q4_0 stats err %v, want ErrUnsupported", err)
	}
	// A size that does not match the shape is corrupt.
	bad := info3
	bad.Size = 8
	if _, err := ComputeStats(context.Background(), r, bad, StatsOptions{}); !errors.Is(err, formats.ErrCorrupt) {
		t.Errorf("short tensor err %v, want ErrCorrupt", err)
	}
	// Cancelled context stops the scan.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ComputeStats(ctx, r, info3, StatsOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled err %v", err)
	}
}

func BenchmarkComputeStats(b *testing.B) {
	vals := make([]float32, 1<<20)
	for i := range vals {
		vals[i] = float32(math.Sin(float64(i)))
	}
	info, raw := f32Tensor("w", vals)
	r := viewReader{&memReader{infos: []formats.TensorInfo{info}, data: map[string][]byte{"w": raw}}}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ComputeStats(context.Background(), r, info, StatsOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
