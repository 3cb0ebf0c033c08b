// Command tokcheck prints, as JSON, what package tokenizer makes of a
// checkpoint directory: the vocabulary summary, the GGUF key/values and the
// encodings of a prompt list. tests/interop/test_tokenizer.py compares its
// output with the reference Python libraries.
//
//	tokcheck [-prompts prompts.json] [-export OUTDIR] DIR
//	tokcheck -split PRE -prompts texts.json
//	tokcheck -pre-table
//	tokcheck -kvs gguf-kvs.json [-prompts prompts.json] [-export OUTDIR]
//
// With -export it also writes the tokenizer.json and tokenizer_config.json
// rebuilt from the vocabulary into OUTDIR. Errors are reported in the JSON
// ("error") with exit status 0, so tests can check the message.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"mlmf/tokenizer"
)

type encoding struct {
	Text   string   `json:"text"`
	IDs    []int32  `json:"ids"`
	Pieces []string `json:"pieces"`
}

type kvOut struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type report struct {
	Error      string     `json:"error,omitempty"`
	Model      string     `json:"model,omitempty"`
	Pre        string     `json:"pre,omitempty"`
	NTokens    int        `json:"n_tokens,omitempty"`
	KVs        []kvOut    `json:"kvs,omitempty"`
	Special    []encoding `json:"special,omitempty"` // special tokens parsed
	Plain      []encoding `json:"plain,omitempty"`   // special tokens as text
	HF         []encoding `json:"hf,omitempty"`      // NewHFEncoder, special tokens parsed
	EncodeErr  string     `json:"encode_error,omitempty"`
	ExportErr  string     `json:"export_error,omitempty"`
	GenEOS     []int32    `json:"generation_eos,omitempty"`
	ChatTmplts int        `json:"chat_templates"`
}

func main() {
	promptsPath := flag.String("prompts", "", "JSON list of prompts to encode")
	export := flag.String("export", "", "directory to write the rebuilt tokenizer.json into")
	split := flag.String("split", "", "print the pre-tokenizer pieces of the prompts for this pre name instead")
	kvsPath := flag.String("kvs", "", "read the vocabulary from GGUF key/values in this JSON file instead of DIR")
	preTable := flag.Bool("pre-table", false, "print the pre-tokenizer names and their split regexes")
	flag.Parse()
	if *preTable {
		_ = json.NewEncoder(os.Stdout).Encode(tokenizer.PreNames())
		return
	}
	if *split != "" && *promptsPath != "" {
		b, err := os.ReadFile(*promptsPath)
		var texts []string
		if err == nil {
			err = json.Unmarshal(b, &texts)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokcheck:", err)
			os.Exit(2)
		}
		out := make([][]string, len(texts))
		for i, t := range texts {
			if out[i], err = tokenizer.PreSplit(*split, t); err != nil {
				fmt.Fprintln(os.Stderr, "tokcheck:", err)
				os.Exit(1)
			}
		}
		_ = json.NewEncoder(os.Stdout).Encode(out)
		return
	}
	if *kvsPath == "" && flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tokcheck [-prompts FILE] [-export DIR] DIR | -split PRE -prompts FILE")
		os.Exit(2)
	}
	var prompts []string
	if *promptsPath != "" {
		b, err := os.ReadFile(*promptsPath)
		if err == nil {
			err = json.Unmarshal(b, &prompts)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokcheck:", err)
			os.Exit(2)
		}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	var r report
	var v *tokenizer.Vocab
	var err error
	if *kvsPath != "" {
		v, err = vocabFromKVFile(*kvsPath)
	} else {
		v, err = tokenizer.FromDir(flag.Arg(0))
	}
	if err != nil {
		r.Error = err.Error()
		_ = out.Encode(r)
		return
	}
	r.Model, r.Pre, r.NTokens, r.GenEOS, r.ChatTmplts = v.Model, v.Pre, len(v.Tokens), v.GenerationEOS, len(v.ChatTemplates)
	for _, kv := range v.KVs() {
		if b, ok := kv.Value.([]uint8); ok { // a list of numbers, not base64
			ints := make([]int, len(b))
			for i, x := range b {
				ints[i] = int(x)
			}
			kv.Value = ints
		}
		r.KVs = append(r.KVs, kvOut{kv.Key, kv.Value})
	}
	if enc, err := tokenizer.NewEncoder(v); err != nil {
		r.EncodeErr = err.Error()
	} else {
		for _, p := range prompts {
			ids := enc.Encode(p, true)
			r.Special = append(r.Special, encoding{p, nonNil(ids), enc.Pieces(ids)})
			ids = enc.Encode(p, false)
			r.Plain = append(r.Plain, encoding{p, nonNil(ids), enc.Pieces(ids)})
		}
	}
	if d, err := tokenizer.ReadDir(flag.Arg(0)); *kvsPath == "" && err == nil {
		if enc, err := tokenizer.NewHFEncoder(d); err == nil {
			for _, p := range prompts {
				ids := enc.Encode(p, true)
				r.HF = append(r.HF, encoding{p, nonNil(ids), enc.Pieces(ids)})
			}
		}
	}
	if *export != "" {
		if err := tokenizer.WriteHF(v, *export); err != nil {
			r.ExportErr = err.Error()
		}
	}
	_ = out.Encode(r)
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

// vocabFromKVFile reads [{"key", "type", "value"}] as dumped from a GGUF by
// gguf-py's GGUFReader and gives the values the Go types a GGUF reader
// would: type is the GGUF value type name (UINT32, BOOL, STRING, FLOAT32,
// INT32, UINT8 ...), prefixed "ARRAY:" for arrays.
func vocabFromKVFile(path string) (*tokenizer.Vocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var kvs []tokenizer.KV
	for _, r := range raw {
		var v any
		var err error
		switch r.Type {
		case "STRING":
			var s string
			err = json.Unmarshal(r.Value, &s)
			v = s
		case "BOOL":
			var x bool
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "UINT32":
			var x uint32
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "INT32":
			var x int32
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "ARRAY:STRING":
			var x []string
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "ARRAY:FLOAT32":
			var x []float32
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "ARRAY:INT32":
			var x []int32
			err = json.Unmarshal(r.Value, &x)
			v = x
		case "ARRAY:UINT8":
			var x []int
			err = json.Unmarshal(r.Value, &x)
			bs := make([]uint8, len(x))
			for i := range x {
				bs[i] = uint8(x[i])
			}
			v = bs
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.Key, err)
		}
		kvs = append(kvs, tokenizer.KV{Key: r.Key, Value: v})
	}
	return tokenizer.FromKVs(kvs)
}
