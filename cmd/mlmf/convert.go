package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/formats/gguf"
	"mlmf/mapping"
)

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dtype := fs.String("dtype", "", "cast floating-point tensors to this dtype (F32, F16, BF16, F64, F8_E4M3, F8_E5M2)")
	shard := fs.String("shard-size", "", "split the output into shards of at most this size (e.g. 5GB, 500MB); DST becomes a directory")
	saturate := fs.Bool("saturate", false, "clamp F8 overflow to the largest finite value instead of NaN/Inf")
	to := fs.String("to", "safetensors", "target format (safetensors, gguf, hf: a Hugging Face model directory)")
	typ := fs.String("type", "", "with --to gguf: type of 2-D weights (F32, F16, BF16, Q8_0, or auto (default): the source's 16-bit type, else F16; norms stay F32), or a llama-quantize preset (Q4_K_M, Q6_K, …)")
	noVocab := fs.Bool("no-vocab", false, "with --to gguf: write no vocabulary (tokenizer.* keys); with --to hf from a GGUF: write no tokenizer files")
	var tensorTypes multiFlag
	fs.Var(&tensorTypes, "tensor-type", "with --to gguf and a preset --type: REGEX=TYPE for the tensors whose GGUF name matches (repeatable, first match wins)")
	outType := fs.String("output-tensor-type", "", "with --to gguf and a preset --type: type of output.weight")
	embType := fs.String("token-embedding-type", "", "with --to gguf and a preset --type: type of token_embd.weight")
	rules := fs.String("rules", "", "with --to gguf: a mapping file (YAML, as `mlmf map --rules` and the TUI's fixer write) merged over the built-in rules")
	dropUnmapped := fs.Bool("drop-unmapped", false, "with --to gguf: leave out the tensors no rule maps instead of refusing the checkpoint")
	splitTensors := fs.Int("split-max-tensors", 0, "with --to gguf: at most this many tensors per file, written as OUT-00001-of-0000N.gguf … (convert_hf_to_gguf.py's flag)")
	splitSize := fs.String("split-max-size", "0", "with --to gguf: at most this many tensor bytes per file: N, NK, NM or NG (10^3, 10^6, 10^9; convert_hf_to_gguf.py's flag)")
	noTensorFirst := fs.Bool("no-tensor-first-split", false, "with --to gguf: the first split holds the metadata only (convert_hf_to_gguf.py's flag)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf convert SRC DST [--dtype BF16] [--shard-size 5GB] [--saturate]")
		fmt.Fprintln(stderr, "       mlmf convert HF_DIR OUT.gguf --to gguf [--type F32|F16|BF16|Q8_0|PRESET] [--no-vocab]")
		fmt.Fprintln(stderr, "           [--tensor-type REGEX=TYPE]... [--output-tensor-type T] [--token-embedding-type T]")
		fmt.Fprintln(stderr, "       mlmf convert SRC OUT_DIR --to hf [--dtype F32|F16|BF16] [--shard-size 5GB] [--no-vocab]")
		fmt.Fprintln(stderr, "         SRC: a Hugging Face directory, a safetensors file, or a GGUF (llama, mistral, mixtral,")
		fmt.Fprintln(stderr, "         qwen2(_moe), qwen3(_moe), gemma(2,3), gpt2, phi3, starcoder2, olmo(2), stablelm): dequantized, renamed,")
		fmt.Fprintln(stderr, "         transforms undone, config.json and tokenizer rebuilt; OUT_DIR is written beside and renamed")
		fmt.Fprintln(stderr, "         into place as a whole")
		fmt.Fprintln(stderr, "       mlmf convert SRC… OUTDIR [flags]   or   mlmf convert 'models/*' OUTDIR [flags]   (a batch)")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if isBatch(ctx, pos) { // SRC… OUTDIR or 'GLOB' OUTDIR: batch.go
		return runBatch(ctx, pos, fs, stdout, stderr)
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	switch *to {
	case "safetensors":
		if *typ != "" || *noVocab || len(tensorTypes) > 0 || *outType != "" || *embType != "" || *rules != "" || *dropUnmapped {
			return fmt.Errorf("convert: --type, --no-vocab, --rules, --drop-unmapped and the tensor type flags apply to --to gguf; use --dtype for safetensors")
		}
	case "gguf":
		if *dtype != "" || *shard != "" || *saturate {
			return fmt.Errorf("convert: --dtype, --shard-size and --saturate apply to --to safetensors and hf; use --type for gguf")
		}
		req := engine.ExportRequest{Source: pos[0], Output: pos[1], NoVocab: *noVocab, DropUnmapped: *dropUnmapped}
		if err := exportTypes(&req, *typ, tensorTypes, *outType, *embType); err != nil {
			return err
		}
		if *rules != "" {
			r, err := mapping.LoadRules(*rules)
			if err != nil {
				return fmt.Errorf("convert: --rules: %w", err)
			}
			req.Rules = r
		}
		// convert_hf_to_gguf.py's split_str_to_n_bytes: N, or N followed by
		// K, M or G (powers of 1000); "0" is no limit.
		size, unit := *splitSize, int64(1)
		if k := strings.IndexAny(size, "KMG"); k >= 0 && k == len(size)-1 {
			size, unit = size[:k], map[byte]int64{'K': 1e3, 'M': 1e6, 'G': 1e9}[size[k]]
		}
		maxBytes, err := strconv.ParseInt(size, 10, 64)
		if err != nil || maxBytes < 0 || maxBytes > math.MaxInt64/unit {
			return fmt.Errorf("convert: --split-max-size %q: want a number of bytes, optionally followed by K, M or G (e.g. 5G)", *splitSize)
		}
		if *splitTensors < 0 {
			return fmt.Errorf("convert: --split-max-tensors %d: want a positive count (0: no limit)", *splitTensors)
		}
		if *splitTensors > 0 || maxBytes > 0 || *noTensorFirst {
			req.Split = &gguf.SplitOptions{MaxTensors: *splitTensors, MaxBytes: maxBytes * unit, NoTensorFirstSplit: *noTensorFirst}
		}
		return runExportGGUF(ctx, req, tty, stdout, stderr)
	case "hf":
		if *rules != "" || *dropUnmapped {
			return fmt.Errorf("convert: --rules and --drop-unmapped apply to --to gguf")
		}
		if *typ != "" || len(tensorTypes) > 0 || *outType != "" || *embType != "" {
			return fmt.Errorf("convert: --type, --tensor-type, --output-tensor-type and --token-embedding-type apply to --to gguf; use --dtype for hf")
		}
		req := engine.HFExportRequest{Source: pos[0], Output: pos[1], Saturate: *saturate, NoVocab: *noVocab}
		return runExportHF(ctx, req, *dtype, *shard, tty, stdout, stderr)
	default:
		return fmt.Errorf("convert: --to %s is not available (safetensors, gguf or hf)", *to)
	}
	req := engine.ConvertRequest{Source: pos[0], Output: pos[1], Saturate: *saturate}
	if *dtype != "" {
		d, err := formats.ParseDType(*dtype)
		if err != nil {
			return fmt.Errorf("convert: --dtype: %w", err)
		}
		req.DType = d
	}
	if *shard != "" {
		n, err := parseSize(*shard)
		if err != nil {
			return fmt.Errorf("convert: --shard-size: %w", err)
		}
		req.ShardSize = n
	}
	res, err := engine.Convert(ctx, req, progressPrinter(tty, stderr))
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	secs := res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "wrote %s: %d tensors (%d cast), %s in %.2fs (%.0f MB/s)\n",
		strings.Join(res.Files, ", "), res.Tensors, res.Converted, humanBytes(res.Bytes), secs, float64(res.Bytes)/1e6/max(secs, 1e-9))
	return nil
}

// progressPrinter draws a bar on a terminal and plain lines otherwise.
func progressPrinter(tty bool, stderr io.Writer) func(engine.Progress) {
	return func(p engine.Progress) {
		if tty {
			fmt.Fprintf(stderr, "\r%s %3d%%  %d/%d tensors", bar(p.Bytes, p.TotalBytes, 30), percent(p.Bytes, p.TotalBytes), p.Index, p.Count)
		} else if p.Index == p.Count || p.Index%100 == 0 {
			fmt.Fprintf(stderr, "progress %d/%d tensors %d/%d bytes\n", p.Index, p.Count, p.Bytes, p.TotalBytes)
		}
	}
}

// exportTypes reads --type and the tensor type flags of --to gguf
// (engine.ExportTypes, which the TUI's Convert form shares).
func exportTypes(req *engine.ExportRequest, typ string, tensorTypes []string, outType, embType string) error {
	if err := engine.ExportTypes(req, typ, tensorTypes, outType, embType); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	return nil
}

// runExportGGUF is `mlmf convert HF_DIR OUT.gguf --to gguf --type T`.
func runExportGGUF(ctx context.Context, req engine.ExportRequest, tty bool, stdout, stderr io.Writer) error {
	res, err := engine.ExportGGUF(ctx, req, progressPrinter(tty, stderr))
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	secs := res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "wrote %s: %s, %d tensors, %s in %.2fs\n", req.Output, res.Arch, res.Tensors, humanBytes(res.Bytes), secs)
	if len(res.Dropped) > 0 {
		fmt.Fprintf(stdout, "left out %d unmapped tensors (--drop-unmapped): %s\n", len(res.Dropped), strings.Join(res.Dropped, ", "))
	}
	return nil
}

// runExportHF is `mlmf convert SRC OUT_DIR --to hf [--dtype T]`.
func runExportHF(ctx context.Context, req engine.HFExportRequest, dtype, shard string, tty bool, stdout, stderr io.Writer) error {
	if dtype != "" {
		d, err := formats.ParseDType(dtype)
		if err != nil {
			return fmt.Errorf("convert: --dtype: %w", err)
		}
		req.DType = d
	}
	if shard != "" {
		n, err := parseSize(shard)
		if err != nil {
			return fmt.Errorf("convert: --shard-size: %w", err)
		}
		req.ShardSize = n
	}
	res, err := engine.ExportHF(ctx, req, progressPrinter(tty, stderr))
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	secs := res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "wrote %s: %s from %s, %d tensors in %s, %s in %.2fs\n", req.Output, res.Arch, res.From, res.Tensors, res.DType, humanBytes(res.Bytes), secs)
	return nil
}

func percent(a, b int64) int64 {
	if b == 0 {
		return 100
	}
	return a * 100 / b
}

func bar(a, b int64, width int) string {
	n := int(percent(a, b)) * width / 100
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// parseSize parses sizes such as 5GB, 500MB, 2GiB or a plain byte count.
// Decimal units are powers of 1000, as transformers' max_shard_size.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}
