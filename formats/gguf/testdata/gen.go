//go:build ignore

// gen writes the GGUF fixtures of this directory. Run from formats/gguf:
//
//	go run testdata/gen.go
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"mlmf/formats/gguf"
	"mlmf/formats/gguf/internal/fixture"
)

func main() {
	ctx := context.Background()
	for _, f := range fixture.Fixtures() {
		if err := gguf.Write(ctx, filepath.Join("testdata", f.Name), f.KVs, f.Tensors); err != nil {
			log.Fatal(err)
		}
	}
	tiny := fixture.Fixtures()[0]
	if _, err := gguf.WriteSplit(ctx, filepath.Join("testdata", "split"), tiny.KVs, tiny.Tensors, gguf.SplitOptions{MaxTensors: 2}); err != nil {
		log.Fatal(err)
	}
	// Regression inputs for FuzzReader: damaged copies of tiny.gguf.
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	damaged := map[string][]byte{
		"truncated-header": b[:100],
		"truncated-data":   b[:len(b)-40],
		"huge-kv-count":    patch(b, 16, 0xff),
		"huge-tensor-dims": patch(b, 130, 0x7f),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for name, in := range damaged {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func patch(b []byte, at int, v byte) []byte {
	out := append([]byte(nil), b...)
	out[at] = v
	return out
}
