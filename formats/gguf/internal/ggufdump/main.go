// Command ggufdump is the bridge the interop tests use to reach package
// gguf from Python.
//
//	ggufdump FILE                       print FILE's header as JSON
//	ggufdump write SPEC.json OUT.gguf   write a GGUF from a JSON spec
//	ggufdump split SPEC.json PREFIX     write gguf-split style splits
//	ggufdump edit FILE [--set KEY=TYPE:VALUE]… [--del KEY]…
//	ggufdump edit-in-place FILE [--set KEY=TYPE:VALUE]… [--del KEY]…
//
// The dump has the KVs in file order (in the JSON form of gguf.KV) and, per
// tensor, its name, ggml type, row-major shape, GGUF ne, stored offset, size
// and the sha256 of its bytes. A spec is {"kvs": [KV…], "tensors": [{"name",
// "type", "shape" (row-major), "data" (path of the raw bytes)}…],
// "split": {"max_tensors", "max_bytes", "no_tensor_first_split"}}.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

type dumpTensor struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Shape  []int64 `json:"shape"`
	NE     []int64 `json:"ne"`
	Offset uint64  `json:"offset"`
	Size   int64   `json:"size"`
	Split  int     `json:"split"`
	SHA256 string  `json:"sha256"`
}

type dump struct {
	Version    uint32       `json:"version"`
	Alignment  uint64       `json:"alignment"`
	DataOffset int64        `json:"data_offset"`
	Files      []string     `json:"files"`
	KVs        []gguf.KV    `json:"kvs"`
	Tensors    []dumpTensor `json:"tensors"`
}

type specTensor struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
	Data  string  `json:"data"`
}

type spec struct {
	KVs     []gguf.KV    `json:"kvs"`
	Tensors []specTensor `json:"tensors"`
	Split   struct {
		MaxTensors         int   `json:"max_tensors"`
		MaxBytes           int64 `json:"max_bytes"`
		NoTensorFirstSplit bool  `json:"no_tensor_first_split"`
	} `json:"split"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ggufdump:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: ggufdump FILE | write SPEC OUT | split SPEC PREFIX | edit FILE [--set K=T:V] [--del K]")
	}
	switch args[0] {
	case "write", "split":
		if len(args) != 3 {
			return fmt.Errorf("usage: ggufdump %s SPEC.json OUT", args[0])
		}
		return write(args[0] == "split", args[1], args[2])
	case "edit", "edit-in-place":
		if len(args) < 2 {
			return fmt.Errorf("usage: ggufdump edit FILE [--set K=T:V] [--del K]")
		}
		var set []gguf.KV
		var del []string
		for i := 2; i < len(args); i += 2 {
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a value", args[i])
			}
			switch args[i] {
			case "--set":
				kv, err := gguf.ParseOverride(args[i+1])
				if err != nil {
					return err
				}
				set = append(set, kv)
			case "--del":
				del = append(del, args[i+1])
			default:
				return fmt.Errorf("unknown flag %s", args[i])
			}
		}
		if args[0] == "edit" {
			return gguf.Edit(args[1], set, del)
		}
		inPlace, err := gguf.EditInPlace(args[1], set, del)
		if err != nil {
			return err
		}
		fmt.Println(map[bool]string{true: "in place", false: "rewritten"}[inPlace])
		return nil
	}
	return dumpFile(args[0])
}

func dumpFile(path string) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	d := dump{Version: f.Version(), Alignment: f.Alignment(), DataOffset: f.DataOffset(),
		Files: f.Files(), KVs: f.KVs(), Tensors: []dumpTensor{}}
	if d.KVs == nil {
		d.KVs = []gguf.KV{}
	}
	for _, t := range f.TensorInfos() {
		h := sha256.New()
		r, err := f.TensorReader(t.Name)
		if err != nil {
			return err
		}
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		d.Tensors = append(d.Tensors, dumpTensor{Name: t.Name, Type: t.DType.String(), Shape: t.Shape, NE: t.NE,
			Offset: t.DataOffset, Size: t.Size, Split: t.Split, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(d)
}

func write(split bool, specPath, out string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	var tensors []formats.Tensor
	for _, t := range s.Tensors {
		dt, err := formats.ParseDType(t.Type)
		if err != nil {
			return err
		}
		p := t.Data
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(specPath), p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tensors = append(tensors, formats.Tensor{Name: t.Name, DType: dt, Shape: t.Shape, Data: formats.BytesData(data)})
	}
	ctx := context.Background()
	if split {
		paths, err := gguf.WriteSplit(ctx, out, s.KVs, tensors, gguf.SplitOptions{
			MaxTensors: s.Split.MaxTensors, MaxBytes: s.Split.MaxBytes, NoTensorFirstSplit: s.Split.NoTensorFirstSplit})
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(paths)
	}
	return gguf.Write(ctx, out, s.KVs, tensors)
}
