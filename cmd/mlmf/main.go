// Command mlmf is a terminal workbench for machine-learning checkpoints.
//
//	mlmf [PATH]                 open PATH in the TUI (the embedded demo without one)
//	mlmf inspect [PATH] [--json] [--hash]
//	mlmf convert SRC DST [--dtype BF16] [--shard-size 5GB] [--saturate]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	_ "mlmf/formats/gguf"
	_ "mlmf/formats/safetensors"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"tui", "open the workbench on a checkpoint (what `mlmf [PATH]` does)", runTUI},
		{"inspect", "show format, metadata, totals and the tensor table of a checkpoint", runInspect},
		{"convert", "rewrite a checkpoint as safetensors, optionally casting float tensors", runConvert},
		{"map", "detect the architecture and map tensor names to llama.cpp's (report, suggestions)", runMap},
		{"preview", "per-tensor and total error and size of a dtype, quant type or preset, before converting", runPreview},
		{"verify", "check structure against the config and every value for NaN/Inf, with per-tensor statistics", runVerify},
		{"diff", "compare two checkpoints under canonical names (HF dir vs its GGUF): missing, shapes, errors", runDiff},
		{"tokenize", "token ids of TEXT from the HF tokenizer and from the GGUF vocabulary, side by side", runTokenize},
		{"quantize", "quantize a GGUF model as llama-quantize does (presets, imatrix, overrides)", runQuantize},
		{"meta", "read and edit GGUF metadata: meta FILE [get KEY | set KEY=TYPE:VALUE … | del KEY …]", runMeta},
		{"gpu", "show GPU memory, utilisation, temperature and power (gpu status [--watch])", runGPU},
		{"version", "print mlmf's version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			fmt.Fprintln(out, "mlmf", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(stdout)
		return 0
	}
	name := "tui" // `mlmf [PATH]` opens the workbench
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		for _, c := range commands {
			if c.name == args[0] {
				name, args = c.name, args[1:]
				break
			}
		}
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		if err := c.run(ctx, args, stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if !errors.Is(err, errUsage) {
				fmt.Fprintln(stderr, "mlmf:", err)
			}
			return 1
		}
		return 0
	}
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mlmf — a workbench for machine-learning checkpoints")
	fmt.Fprintln(w, "\nusage: mlmf <command> [arguments]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `mlmf <command> -h` for a command's flags. PATH may be a file, a directory or hf://org/name[@rev].")
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
