package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/internal/demo"
)

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the stable JSON summary (see README)")
	hash := fs.Bool("hash", false, "add the sha256 of every tensor's bytes (reads all data)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf inspect [PATH] [--json] [--hash]\n\nWithout PATH, inspects the embedded demo checkpoint.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		fs.Usage()
		return errUsage
	}
	var path string
	if len(pos) == 1 {
		path = pos[0]
	} else {
		if path, err = demo.Path(); err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "(no PATH given: the embedded demo checkpoint)\n")
		}
	}
	r, err := formats.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := engine.Inspect(ctx, path, r, engine.InspectOptions{Hash: *hash})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	printSummary(stdout, s)
	return nil
}

func printSummary(w io.Writer, s *engine.Summary) {
	fmt.Fprintf(w, "path        %s\n", s.Path)
	fmt.Fprintf(w, "format      %s", s.Format)
	if len(s.Files) > 1 {
		fmt.Fprintf(w, " (%d files)", len(s.Files))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "tensors     %d\n", s.TensorCount)
	fmt.Fprintf(w, "parameters  %s (%d)\n", humanCount(s.ParameterCount), s.ParameterCount)
	fmt.Fprintf(w, "bytes       %s (%d)\n", humanBytes(s.TotalBytes), s.TotalBytes)
	if s.BitsPerWeight > 0 {
		fmt.Fprintf(w, "bits/weight %.2f\n", s.BitsPerWeight)
	}
	if len(s.MetadataLines) > 0 {
		fmt.Fprintln(w, "\nmetadata")
		for _, kv := range s.MetadataLines {
			fmt.Fprintf(w, "  %s = %s\n", kv[0], kv[1])
		}
	} else if len(s.Metadata) > 0 {
		fmt.Fprintln(w, "\nmetadata")
		keys := make([]string, 0, len(s.Metadata))
		for k := range s.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s = %s\n", k, summariseValue(s.Metadata[k]))
		}
	}
	fmt.Fprintln(w, "\nby dtype")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  dtype\ttensors\tparameters\tbytes\t")
	for _, name := range s.SortedDTypes() {
		d := s.DTypes[name]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t\n", name, d.Tensors, d.Parameters, humanBytes(d.Bytes))
	}
	tw.Flush()
	fmt.Fprintln(w, "\ntensors")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tdtype\tshape\tbytes\toffset")
	for _, t := range s.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", t.Name, t.DType, shapeString(t.Shape), t.Bytes, t.Offset)
	}
	tw.Flush()
}

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// summariseValue prints metadata compactly: long strings and arrays are cut.
func summariseValue(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 80 {
			return fmt.Sprintf("%q… (%d bytes)", x[:77], len(x))
		}
		return fmt.Sprintf("%q", x)
	case []any:
		if len(x) > 8 {
			return fmt.Sprintf("[%v … ] (%d items)", x[:8], len(x))
		}
	}
	s := fmt.Sprint(v)
	if len(s) > 100 {
		return s[:97] + "…"
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
