//go:build ignore

// gen writes the importance-matrix fixtures of this directory. Run from
// formats/imatrix:
//
//	go run testdata/gen.go
package main

import (
	"context"
	"encoding/binary"
	"log"
	"math"
	"os"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

func f32s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func main() {
	// GGUF format: a dense entry and a 2-expert entry, as llama-imatrix
	// writes them (sorted names, in_sum2 [nmat, ne0], counts [nmat, 1]).
	kvs := []gguf.KV{
		gguf.String("general.type", "imatrix"),
		gguf.Strings("imatrix.datasets", []string{"calibration.txt"}),
		gguf.Uint32("imatrix.chunk_count", 10),
		gguf.Uint32("imatrix.chunk_size", 512),
	}
	ts := []formats.Tensor{
		{Name: "blk.0.attn_q.weight.in_sum2", DType: formats.F32, Shape: []int64{1, 4}, Data: formats.BytesData(f32s(10, 20, 30, 40))},
		{Name: "blk.0.attn_q.weight.counts", DType: formats.F32, Shape: []int64{1, 1}, Data: formats.BytesData(f32s(10))},
		{Name: "blk.0.ffn_up_exps.weight.in_sum2", DType: formats.F32, Shape: []int64{2, 2}, Data: formats.BytesData(f32s(1, 2, 3, 4))},
		{Name: "blk.0.ffn_up_exps.weight.counts", DType: formats.F32, Shape: []int64{2, 1}, Data: formats.BytesData(f32s(2, 0))},
	}
	if err := gguf.Write(context.Background(), "testdata/imatrix.gguf", kvs, ts); err != nil {
		log.Fatal(err)
	}
	// Legacy format with the dataset trailer.
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 1)
	name := "blk.0.attn_q.weight"
	b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint32(b, 10) // ncall
	b = binary.LittleEndian.AppendUint32(b, 4)  // nval
	b = append(b, f32s(10, 20, 30, 40)...)
	b = binary.LittleEndian.AppendUint32(b, 10) // last call
	b = binary.LittleEndian.AppendUint32(b, 15)
	b = append(b, "calibration.txt"...)
	if err := os.WriteFile("testdata/imatrix.dat", b, 0o644); err != nil {
		log.Fatal(err)
	}
}
