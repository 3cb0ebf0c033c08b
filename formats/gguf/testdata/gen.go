//go:build ignore

// gen writes the GGUF fixtures of this directory. Run from formats/gguf:
//
//	go run testdata/gen.go
package main

import (
	"context"
	"log"
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
}
