// Package ggml holds ggml's tensor block codecs: dequantization of every
// tensor type llama.cpp stores in GGUF files and quantization to the types
// llama-quantize writes, bit for bit as llama.cpp's reference C code
// (ggml/src/ggml-quants.c, compiled for x86-64 without FMA) does them.
//
// The functions are pure and work on caller-owned buffers: no allocation per
// block or row, no global state. Buffers are little-endian, as in GGUF files.
//
// How exactness is kept:
//   - every float32 operation of the C is done in the same order and
//     precision; products feeding a sum are rounded explicitly
//     (float32(a*b)) so Go cannot fuse them into an FMA on arm64 and others;
//   - C's conversions are spelled out where Go leaves them
//     implementation-defined (cvtt: (int)f on x86, NaN and overflow included);
//   - shortcuts replace the C only where they provably give the same bits:
//     branch-free block maxima on the float bits, trial scales of the
//     make_qx/make_qkx searches evaluated four at a time (one per SIMD lane,
//     each lane the C's scalar sequence, kernels_amd64.s) and judged in the
//     C's order, a shorter MXFP4 candidate scan, an SSE2 Q4_0 block.
//
// Proof: testdata/golden (vectors from llama.cpp's libggml, checked by
// `go test`) and tests/interop/test_ggml.py (random blocks and rows against
// libggml from the pinned llama-cpp-python, with and without an importance
// matrix, including NaN/Inf inputs, and against gguf-py).
package ggml

// The IQ grids come from gguf-py (the venv of tests/interop on PATH):
//go:generate sh -c "python3 internal/gentables/gentables.py > tables_gen.go"

import (
	"fmt"
	"runtime"
	"sync"

	"mlmf/formats"
)

// RowSize returns the bytes of a row of n elements of type t (ggml_row_size),
// or an error if t is not a ggml type or n is not a whole number of blocks.
func RowSize(t formats.DType, n int) (int, error) {
	if _, ok := t.GGML(); !ok || t.TypeSize() == 0 {
		return 0, fmt.Errorf("ggml: %v: %w", t, formats.ErrUnsupported)
	}
	bs := t.BlockSize()
	if n < 0 || n%bs != 0 {
		return 0, fmt.Errorf("ggml: %v: row of %d elements is not a multiple of the block size %d: %w",
			t, n, bs, formats.ErrCorrupt)
	}
	nb := n / bs
	if ts := t.TypeSize(); nb > maxInt/ts {
		return 0, fmt.Errorf("ggml: %v: row of %d elements overflows: %w", t, n, formats.ErrCorrupt)
	}
	return n / bs * t.TypeSize(), nil
}

const maxInt = int(^uint(0) >> 1)

// CanDequantize reports whether Dequantize handles t.
func CanDequantize(t formats.DType) bool { _, ok := dequantizers[t]; return ok }

// CanQuantize reports whether Quantize handles t.
func CanQuantize(t formats.DType) bool { _, ok := quantizers[t]; return ok }

// Dequantize decodes src, whole blocks of type t, into dst, which must hold
// exactly the blocks' elements (len(src)/TypeSize*BlockSize). The output is
// bit-identical to ggml's to_float (dequantize_row_*) for every type; Q8_1,
// which ggml never dequantizes, decodes as qs*d.
func Dequantize(dst []float32, src []byte, t formats.DType) error {
	f, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("ggml: dequantize %v: %w", t, formats.ErrUnsupported)
	}
	ts, bs := t.TypeSize(), t.BlockSize()
	if len(src)%ts != 0 {
		return fmt.Errorf("ggml: dequantize %v: %d bytes is not a whole number of %d-byte blocks: %w",
			t, len(src), ts, formats.ErrCorrupt)
	}
	if nb := len(src) / ts; nb > maxInt/bs || nb*bs != len(dst) {
		return fmt.Errorf("ggml: dequantize %v: %d bytes decode to %d elements, destination holds %d: %w",
			t, len(src), len(src)/ts*bs, len(dst), ErrSize)
	}
	f(dst, src)
	return nil
}

// Quantize encodes src, rows of nPerRow elements, into dst as type t, bit
// for bit as ggml_quantize_chunk does. imatrix is nil or holds nPerRow
// importance weights (llama.cpp's quant_weights, one per column); types
// that ignore it (Q8_0, MXFP4, TQ1_0, TQ2_0, F16, BF16, F32) ignore it here
// too. dst must hold exactly len(src)/nPerRow rows of RowSize(t, nPerRow).
func Quantize(dst []byte, src []float32, t formats.DType, nPerRow int, imatrix []float32) error {
	return QuantizeParallel(dst, src, t, nPerRow, imatrix, 1)
}

// QuantizeParallel is Quantize with the rows split across workers
// goroutines (workers <= 0 means runtime.GOMAXPROCS(0)). The output does
// not depend on workers.
func QuantizeParallel(dst []byte, src []float32, t formats.DType, nPerRow int, imatrix []float32, workers int) error {
	q, ok := quantizers[t]
	if !ok {
		return fmt.Errorf("ggml: quantize to %v: %w", t, formats.ErrUnsupported)
	}
	if nPerRow <= 0 {
		return fmt.Errorf("ggml: quantize to %v: row length %d: %w", t, nPerRow, ErrSize)
	}
	rowSize, err := RowSize(t, nPerRow)
	if err != nil {
		return err
	}
	if len(src)%nPerRow != 0 {
		return fmt.Errorf("ggml: quantize to %v: %d values are not whole rows of %d: %w", t, len(src), nPerRow, ErrSize)
	}
	nrows := len(src) / nPerRow
	if nrows > 0 && rowSize > maxInt/nrows || nrows*rowSize != len(dst) {
		return fmt.Errorf("ggml: quantize to %v: %d rows need %d bytes, destination holds %d: %w",
			t, nrows, nrows*rowSize, len(dst), ErrSize)
	}
	if imatrix != nil && len(imatrix) != nPerRow {
		return fmt.Errorf("ggml: quantize to %v: importance matrix has %d values for rows of %d: %w",
			t, len(imatrix), nPerRow, ErrSize)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > nrows {
		workers = nrows
	}
	if workers <= 1 {
		quantizeRows(q, dst, src, imatrix, nPerRow, rowSize, 0, nrows)
		return nil
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		r0, r1 := nrows*w/workers, nrows*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			quantizeRows(q, dst, src, imatrix, nPerRow, rowSize, r0, r1)
		}()
	}
	wg.Wait()
	return nil
}

func quantizeRows(q rowQuantizer, dst []byte, src, imatrix []float32, nPerRow, rowSize, r0, r1 int) {
	for r := r0; r < r1; r++ {
		q(dst[r*rowSize:(r+1)*rowSize], src[r*nPerRow:(r+1)*nPerRow], imatrix)
	}
}

// A rowQuantizer encodes one row x (a whole number of blocks) into y
// (exactly the row's bytes); qw is nil or len(x) importance weights.
type rowQuantizer func(y []byte, x []float32, qw []float32)

var quantizers map[formats.DType]rowQuantizer

func init() {
	quantizers = map[formats.DType]rowQuantizer{
		formats.F32:    quantF32,
		formats.F16:    quantF16,
		formats.BF16:   quantBF16,
		formats.Q8_0:   quantQ8_0,
		formats.Q4_0:   quantQ4_0,
		formats.Q4_1:   quantQ4_1,
		formats.Q5_0:   quantQ5_0,
		formats.Q5_1:   quantQ5_1,
		formats.Q2_K:   quantQ2K,
		formats.Q3_K:   quantQ3K,
		formats.Q4_K:   quantQ4K,
		formats.Q5_K:   quantQ5K,
		formats.Q6_K:   quantQ6K,
		formats.IQ4_NL: quantIQ4NL,
		formats.IQ4_XS: quantIQ4XS,
		formats.MXFP4:  quantMXFP4,
		formats.TQ1_0:  quantTQ1_0,
		formats.TQ2_0:  quantTQ2_0,
	}
}
