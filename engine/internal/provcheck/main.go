// Command provcheck writes the provenance mlmf gathers for a Hugging Face
// directory as a GGUF file without tensors (and as JSON on stdout), so that
// tests/interop/test_hf_export.py can read the keys back with gguf-py and
// compare them with what gguf-py's Metadata writes for the same directory.
//
//	provcheck DIR OUT.gguf
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"mlmf/engine"
	"mlmf/formats/gguf"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: provcheck DIR OUT.gguf")
		os.Exit(2)
	}
	dir, out := os.Args[1], os.Args[2]
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	kvs := []gguf.KV{gguf.String("general.architecture", "llama"), gguf.String("general.type", "model")}
	kvs, err := engine.ApplyProvenance(kvs, dir, files, map[string]string{"type": "F16"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := gguf.Write(context.Background(), out, kvs, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p, err := engine.ReadProvenance(dir, files, map[string]string{"type": "F16"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := p.JSON()
	os.Stdout.Write(b)
}
