package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"mlmf/engine"
	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/gguf"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runQuantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quantize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "", "file type preset (Q4_K_M, Q8_0, F16, …) or its llama.cpp id")
	pure := fs.Bool("pure", false, "no k-quant mixture: every quantizable tensor gets the preset's default type")
	imatrixPath := fs.String("imatrix", "", "importance matrix (llama-imatrix GGUF or legacy .dat)")
	var include, exclude, tensorTypes, overrides multiFlag
	fs.Var(&include, "include-weights", "use the importance matrix only for tensors whose name contains this (repeatable)")
	fs.Var(&exclude, "exclude-weights", "do not use the importance matrix for tensors whose name contains this (repeatable)")
	outType := fs.String("output-tensor-type", "", "type of output.weight")
	embType := fs.String("token-embedding-type", "", "type of token_embd.weight")
	fs.Var(&tensorTypes, "tensor-type", "REGEX=TYPE: type of the tensors whose GGUF name matches REGEX (repeatable, first match wins)")
	leaveOutput := fs.Bool("leave-output-tensor", false, "keep output.weight as it is")
	requant := fs.Bool("allow-requantize", false, "allow requantizing tensors that are already quantized")
	fs.Var(&overrides, "override-kv", "KEY=TYPE:VALUE metadata override, TYPE int, float, bool or str (repeatable)")
	keepSplit := fs.Bool("keep-split", false, "write one output split per input split")
	quiet := fs.Bool("quiet", false, "do not list the per-tensor decisions")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf quantize IN.gguf OUT.gguf --type Q4_K_M [flags]\n\nFlags mean what llama-quantize's mean.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 3 && *typ == "" { // llama-quantize's positional form
		*typ, pos = pos[2], pos[:2]
	}
	if len(pos) != 2 || *typ == "" {
		fs.Usage()
		return errUsage
	}
	req := engine.QuantizeRequest{Input: pos[0], Output: pos[1], Imatrix: *imatrixPath, Include: include, Exclude: exclude, KeepSplit: *keepSplit}
	opt := &req.Options
	if strings.EqualFold(*typ, "COPY") {
		opt.OnlyCopy = true
	} else if opt.FileType, err = quant.ParseFileType(*typ); err != nil {
		return err
	}
	opt.Pure, opt.LeaveOutputTensor, opt.AllowRequantize = *pure, *leaveOutput, *requant
	parseType := func(flagName, s string) (formats.DType, error) {
		if s == "" {
			return formats.Invalid, nil
		}
		d, err := quant.ParseType(s)
		if err != nil {
			return 0, fmt.Errorf("--%s: %w", flagName, err)
		}
		return d, nil
	}
	if opt.OutputTensorType, err = parseType("output-tensor-type", *outType); err != nil {
		return err
	}
	if opt.TokenEmbeddingType, err = parseType("token-embedding-type", *embType); err != nil {
		return err
	}
	for _, s := range tensorTypes {
		tt, err := quant.ParseTensorType(s)
		if err != nil {
			return err
		}
		opt.TensorTypes = append(opt.TensorTypes, tt)
	}
	for _, s := range overrides {
		kv, err := gguf.ParseOverride(s)
		if err != nil {
			return err
		}
		req.Overrides = append(req.Overrides, kv)
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	res, err := engine.Quantize(ctx, req, func(p engine.Progress) {
		if tty {
			fmt.Fprintf(stderr, "\r%s %3d%%  %d/%d tensors", bar(p.Bytes, p.TotalBytes, 30), percent(p.Bytes, p.TotalBytes), p.Index, p.Count)
		}
	})
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fallbacks := 0
	for i, d := range res.Decisions {
		if d.Fallback {
			fallbacks++
		}
		if *quiet && !d.Fallback {
			continue
		}
		mark := ""
		if d.Fallback {
			mark = "  [fallback]"
		}
		fmt.Fprintf(stdout, "[%4d/%4d] %-40s %-6v → %-6v %s%s\n", i+1, len(res.Decisions), d.Name, d.From, d.To, d.Reason, mark)
	}
	secs := res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "wrote %s: %s → %s, %d tensors, %d fallbacks, %.2fs (%.0f MB/s of input)\n",
		strings.Join(res.Files, ", "), humanBytes(res.InBytes), humanBytes(res.OutBytes), len(res.Decisions), fallbacks,
		secs, float64(res.InBytes)/1e6/max(secs, 1e-9))
	return nil
}
