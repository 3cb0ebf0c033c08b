package ggml

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"mlmf/formats"
)

func allCodecTypes(m map[formats.DType]bool) []formats.DType {
	var out []formats.DType
	for _, d := range formats.AllDTypes() {
		if m[d] {
			out = append(out, d)
		}
	}
	return out
}

// FuzzDequantize: any bytes, any type: an error or a full decode, never a
// panic; with finite scales the output is finite.
func FuzzDequantize(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(5), make([]byte, 144))
	f.Add(uint8(9), []byte{0x00, 0x3c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	m := map[formats.DType]bool{}
	for d := range dequantizers {
		m[d] = true
	}
	types := allCodecTypes(m)
	f.Fuzz(func(t *testing.T, ti uint8, data []byte) {
		dt := types[int(ti)%len(types)]
		n := len(data) / dt.TypeSize() * dt.BlockSize()
		y := make([]float32, n)
		err := Dequantize(y, data, dt)
		if len(data)%dt.TypeSize() != 0 {
			if err == nil {
				t.Fatalf("%v: %d bytes accepted", dt, len(data))
			}
			return
		}
		if err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		if err := Dequantize(make([]float32, n+1), data, dt); err == nil {
			t.Fatalf("%v: wrong destination size accepted", dt)
		}
	})
}

// FuzzQuantize: any finite input rows quantize without panic, the AVX2 and
// fallback kernels agree, and the result dequantizes to finite values
// wherever it passes ggml_validate_row_data (ValidateRows).
//
// That is all libggml guarantees: its quantizers store the scales they fit
// as f16 and do not clamp them, so inputs near the f16 range can overflow a
// scale to ±Inf (Q4_1 with an importance matrix fits a min below -65504 for
// a block of values clustered near +5e4; TestQ4_1ImatrixOverflowIsLibggmls
// has libggml's bytes for one), and llama_model_quantize then refuses the
// tensor ("quantized data validation failed"). The byte-for-byte comparison
// with libggml is tests/interop/test_ggml.py's.
func FuzzQuantize(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{0, 0, 128, 63})
	f.Add(uint8(7), uint8(1), make([]byte, 1024))
	f.Add(uint8(12), uint8(2), []byte{1, 2, 3, 4, 5, 6, 7, 8, 200, 201, 202, 0x7f, 0, 0, 0x80, 0xff})
	types := quantTypes()
	f.Fuzz(func(t *testing.T, ti uint8, nb uint8, data []byte) {
		dt := types[int(ti)%len(types)]
		bs := dt.BlockSize()
		if bs == 1 {
			bs = 32
		}
		nPerRow := bs * (1 + int(nb)%4)
		if len(data) > 16*nPerRow { // at most 4 rows: keeps each run fast
			data = data[:16*nPerRow]
		}
		x := make([]float32, nPerRow*(1+len(data)/(4*nPerRow)))
		var amax float32
		for i := range x {
			var v float32
			if 4*i+4 <= len(data) {
				v = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 6e4 {
				v = float32(math.Mod(float64(v), 6e4))
				if math.IsNaN(float64(v)) {
					v = 0
				}
			}
			x[i] = v
			amax = max(amax, abs32(v))
		}
		var im []float32
		if nb&0x80 != 0 {
			im = make([]float32, nPerRow)
			for i := range im {
				im[i] = float32(i%7) * 0.5
			}
		}
		rs, err := RowSize(dt, nPerRow)
		if err != nil {
			t.Fatal(err)
		}
		q := make([]byte, len(x)/nPerRow*rs)
		if err := Quantize(q, x, dt, nPerRow, im); err != nil {
			t.Fatal(err)
		}
		// the fallback kernels (SSE2, pure Go) must give the same bytes
		restore := setAVX2(false)
		q2 := make([]byte, len(q))
		err = Quantize(q2, x, dt, nPerRow, im)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(q, q2) {
			t.Fatalf("%v: the AVX2 and fallback kernels differ", dt)
		}
		y := make([]float32, len(x))
		if err := Dequantize(y, q, dt); err != nil {
			t.Fatal(err)
		}
		if ValidateRows(dt, q) != nil {
			return // what libggml writes too, and llama.cpp refuses
		}
		for i, v := range y {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%v: element %d: %v from %v (max |x| %v), with every scale finite", dt, i, v, x[i], amax)
			}
		}
	})
}

// TestQ4_1ImatrixOverflowIsLibggmls: a block of values near +5e4 quantized
// to Q4_1 with an importance matrix: libggml's make_qkx3_quants fits a min
// below the f16 range, stored as -Inf (bytes from ggml_quantize_chunk of the
// pinned llama-cpp-python, tests/interop/ggml_oracle.py). Ours are the same;
// the row fails ggml_validate_row_data, which FuzzQuantize allows.
func TestQ4_1ImatrixOverflowIsLibggmls(t *testing.T) {
	t.Parallel()
	x := []float32{53493.273, 53873.156, 53297.09, 53378.957, 53582.844, 53560.24, 53597.59, 53691.77, 53723.31, 53930.57, 52231.258, 53680.363, 53326.44, 51974.586, 53598.26, 53464.69, 53144.016, 53488.2, 53458.383, 52759.543, 53607.184, 54209.027, 53579.62, 53445.445, 54864.44, 52927.18, 52602.426, 52052.402, 54126.1, 53281.332, 53494.98, 53514.273}
	want := []byte{0x00, 0x72, 0x00, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	im := make([]float32, 32)
	for i := range im {
		im[i] = float32(i%7) * 0.5 // FuzzQuantize's
	}
	q := make([]byte, 20)
	if err := Quantize(q, x, formats.Q4_1, 32, im); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q, want) {
		t.Fatalf("Q4_1 with imatrix:\n got % x\nwant % x (libggml)", q, want)
	}
	if err := ValidateRows(formats.Q4_1, q); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("ValidateRows of an -Inf min: err = %v", err)
	}
}
