package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats"
)

// BenchmarkExportGGUF converts the checkpoint directory named by
// MLMF_BENCH_EXPORT_DIR (generated on demand, e.g. by scripts/bench.py's
// write_llama_checkpoint; never committed) to GGUF F16 and Q8_0, the output
// in MLMF_BENCH_EXPORT_OUT (default: the test's temp dir). Profile with
// -cpuprofile / -memprofile.
func BenchmarkExportGGUF(b *testing.B) {
	dir := os.Getenv("MLMF_BENCH_EXPORT_DIR")
	if dir == "" {
		b.Skip("set MLMF_BENCH_EXPORT_DIR to a Hugging Face checkpoint directory")
	}
	outDir := os.Getenv("MLMF_BENCH_EXPORT_OUT")
	if outDir == "" {
		outDir = b.TempDir()
	}
	for _, typ := range []formats.DType{formats.F16, formats.Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			b.ReportAllocs()
			out := filepath.Join(outDir, "bench-"+typ.String()+".gguf")
			defer os.Remove(out)
			for b.Loop() {
				res, err := ExportGGUF(context.Background(), ExportRequest{Source: dir, Output: out, Type: typ}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Bytes)
			}
		})
	}
}
