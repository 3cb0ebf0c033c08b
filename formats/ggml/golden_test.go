package ggml

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats"
)

// golden is one testdata/golden/<TYPE>.json, written by
// internal/gengolden/gengolden.py from llama.cpp's libggml-base (never from
// this package): `go test` alone then proves bit-exactness on these vectors.
type golden struct {
	Type         string `json:"type"`
	NPerRow      int    `json:"n_per_row"`
	Input        string `json:"input_f32"`
	Imatrix      string `json:"imatrix_f32"`
	Quant        string `json:"quant"`
	QuantImatrix string `json:"quant_imatrix"`
	DequantIn    string `json:"dequant_in"`
	DequantF32   string `json:"dequant_f32"`
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[formats.DType]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dt, err := formats.ParseDType(g.Type)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seen[dt] = true
		t.Run(g.Type, func(t *testing.T) {
			t.Parallel()
			in := b64(t, g.DequantIn)
			want := f32s(b64(t, g.DequantF32))
			got := make([]float32, len(want))
			if err := Dequantize(got, in, dt); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dequantize: value %d = %#08x, ggml %#08x", i, math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
			if g.Input == "" {
				if CanQuantize(dt) {
					t.Fatalf("no quantization vectors for %v", dt)
				}
				return
			}
			checkGoldenQuant(t, g, dt)
		})
	}
	for d := range dequantizers {
		if !seen[d] {
			t.Errorf("no golden vectors for %v", d)
		}
	}
}

// checkGoldenQuant quantizes g's input without and with its imatrix and
// compares with libggml's bytes.
func checkGoldenQuant(t *testing.T, g golden, dt formats.DType) {
	t.Helper()
	x := f32s(b64(t, g.Input))
	im := f32s(b64(t, g.Imatrix))
	for _, c := range []struct {
		name string
		im   []float32
		want []byte
	}{{"plain", nil, b64(t, g.Quant)}, {"imatrix", im, b64(t, g.QuantImatrix)}} {
		got := make([]byte, len(c.want))
		if err := Quantize(got, x, dt, g.NPerRow, c.im); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(got, c.want) {
			i := 0
			for got[i] == c.want[i] {
				i++
			}
			t.Fatalf("%s: byte %d (block %d) = %#02x, ggml %#02x", c.name, i, i/dt.TypeSize(), got[i], c.want[i])
		}
	}
}
