package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"mlmf/formats/gguf"
	"mlmf/tokenizer"
)

func runTokenize(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hfDir := fs.String("hf", "", "with a GGUF MODEL: the Hugging Face directory to compare with")
	noSpecial := fs.Bool("no-special", false, "treat special-token text as plain text")
	asJSON := fs.Bool("json", false, "print both id lists and the first difference as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: mlmf tokenize MODEL TEXT [--hf DIR] [--no-special] [--json]

MODEL is a Hugging Face directory (tokenizer.json or tokenizer.model): its ids
from the HF tokenizer are shown beside those of the GGUF vocabulary mlmf makes
of it (what llama.cpp will use). MODEL may also be a GGUF file, compared with
--hf DIR when given.`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	model, text := pos[0], pos[1]
	special := !*noSpecial

	var hfEnc, ggufEnc *tokenizer.Encoder
	hfPath := ""
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		hfPath = model
		v, err := tokenizer.FromDir(model)
		if err != nil {
			return err
		}
		if ggufEnc, err = tokenizer.NewEncoder(v); err != nil {
			return err
		}
	} else {
		f, err := gguf.Open(model)
		if err != nil {
			return err
		}
		var kvs []tokenizer.KV
		for _, kv := range f.KVs() {
			kvs = append(kvs, tokenizer.KV{Key: kv.Key, Value: kv.Value})
		}
		f.Close()
		v, err := tokenizer.FromKVs(kvs)
		if err != nil {
			return fmt.Errorf("tokenize: %s: %w", model, err)
		}
		if ggufEnc, err = tokenizer.NewEncoder(v); err != nil {
			return fmt.Errorf("tokenize: %s: %w", model, err)
		}
		hfPath = *hfDir
	}
	if hfPath != "" {
		d, err := tokenizer.ReadDir(hfPath)
		if err != nil {
			return err
		}
		if hfEnc, err = tokenizer.NewHFEncoder(d); err != nil {
			return err
		}
	}
	g := ggufEnc.Encode(text, special)
	var h []int32
	diff := -1
	if hfEnc != nil {
		h = hfEnc.Encode(text, special)
		diff = tokenizer.FirstDiff(h, g)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := map[string]any{"gguf": g, "gguf_pieces": ggufEnc.Pieces(g), "first_difference": diff}
		if hfEnc != nil {
			out["hf"], out["hf_pieces"] = h, hfEnc.Pieces(h)
		}
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	gp := ggufEnc.Pieces(g)
	if hfEnc == nil {
		fmt.Fprintln(tw, "#\tgguf id\tpiece")
		for i, id := range g {
			fmt.Fprintf(tw, "%d\t%d\t%q\n", i, id, gp[i])
		}
		return tw.Flush()
	}
	hp := hfEnc.Pieces(h)
	fmt.Fprintln(tw, "#\thf id\thf piece\tgguf id\tgguf piece\t")
	for i := 0; i < max(len(h), len(g)); i++ {
		cell := func(ids []int32, pieces []string) (string, string) {
			if i < len(ids) {
				return fmt.Sprint(ids[i]), fmt.Sprintf("%q", pieces[i])
			}
			return "", ""
		}
		a, ap := cell(h, hp)
		b, bp := cell(g, gp)
		mark := ""
		if i == diff {
			mark = "← first difference"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i, a, ap, b, bp, mark)
	}
	tw.Flush()
	if diff >= 0 {
		return fmt.Errorf("tokenize: the GGUF vocabulary tokenizes %q differently from the HF tokenizer (first at token %d)", strings.TrimSpace(text), diff)
	}
	fmt.Fprintf(stdout, "identical: %d tokens\n", len(g))
	return nil
}
