// Command codec exposes formats/ggml to the interop tests
// (tests/interop/test_ggml.py) through raw little-endian files:
//
//	codec quantize TYPE NPERROW in.f32 out.bin [imatrix.f32]
//	codec dequantize TYPE in.bin out.f32
//	codec rowsize TYPE N
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"mlmf/formats"
	"mlmf/formats/ggml"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "codec:", err)
		os.Exit(1)
	}
}

func readF32(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of float32s", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: codec quantize TYPE NPERROW in.f32 out.bin [imatrix.f32] | dequantize TYPE in.bin out.f32 | rowsize TYPE N")
	}
	t, err := formats.ParseDType(args[1])
	if err != nil {
		return err
	}
	switch args[0] {
	case "rowsize":
		if len(args) != 3 {
			return fmt.Errorf("rowsize TYPE N")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		rs, err := ggml.RowSize(t, n)
		if err != nil {
			return err
		}
		fmt.Println(rs)
		return nil
	case "quantize":
		if len(args) != 5 && len(args) != 6 {
			return fmt.Errorf("quantize TYPE NPERROW in.f32 out.bin [imatrix.f32]")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		src, err := readF32(args[3])
		if err != nil {
			return err
		}
		var imatrix []float32
		if len(args) == 6 {
			if imatrix, err = readF32(args[5]); err != nil {
				return err
			}
		}
		rs, err := ggml.RowSize(t, n)
		if err != nil {
			return err
		}
		if n <= 0 || len(src)%n != 0 {
			return fmt.Errorf("%d values are not whole rows of %d", len(src), n)
		}
		dst := make([]byte, len(src)/n*rs)
		if err := ggml.QuantizeParallel(dst, src, t, n, imatrix, 0); err != nil {
			return err
		}
		return os.WriteFile(args[4], dst, 0o644)
	case "dequantize":
		if len(args) != 4 {
			return fmt.Errorf("dequantize TYPE in.bin out.f32")
		}
		src, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		if t.TypeSize() == 0 {
			return fmt.Errorf("%v: %w", t, formats.ErrUnsupported)
		}
		dst := make([]float32, len(src)/t.TypeSize()*t.BlockSize())
		if err := ggml.Dequantize(dst, src, t); err != nil {
			return err
		}
		out := make([]byte, 4*len(dst))
		for i, v := range dst {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return os.WriteFile(args[3], out, 0o644)
	}
	return fmt.Errorf("unknown command %q", args[0])
}
