package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"golang.org/x/term"

	"mlmf/engine"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the verdict, mapping report and per-tensor statistics as JSON")
	arch := fs.String("arch", "", "architecture to check against instead of the detected one")
	all := fs.Bool("all", false, "list every tensor's statistics, not only the tensors with problems")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf verify PATH [--json] [--arch A] [--all]")
		fmt.Fprintln(stderr, "Checks the structure against config.json or the GGUF metadata and scans every value for NaN/Inf;")
		fmt.Fprintln(stderr, "exits 1 when it finds a problem.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var prog func(engine.Progress)
	if tty && !*asJSON {
		prog = progressPrinter(true, stderr)
	}
	res, err := engine.Verify(ctx, engine.VerifyRequest{Path: pos[0], Arch: *arch}, prog)
	if prog != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printVerify(stdout, res, *all)
	}
	if !res.OK {
		return fmt.Errorf("verify: %s: %d problem(s) found", pos[0], len(res.Problems))
	}
	return nil
}

func printVerify(w io.Writer, res *engine.VerifyResult, all bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "path\t%s\n", res.Path)
	fmt.Fprintf(tw, "format\t%s\n", res.Format)
	if res.Detection.Arch != "" {
		fmt.Fprintf(tw, "architecture\t%s (%s)\n", res.Detection.Arch, res.Detection.Reason)
	} else {
		fmt.Fprintf(tw, "architecture\tnot detected (%s)\n", res.Detection.Reason)
	}
	if m := res.Mapping; m != nil {
		s := m.Summary
		fmt.Fprintf(tw, "mapping\t%d tensors: %d mapped, %d skipped, %d unmapped, %d missing, %d shape mismatches, %d collisions\n",
			s.Tensors, s.Mapped, s.Skipped, s.Unmapped, s.Missing, s.ShapeMismatches, s.Collisions)
	}
	var scanned, nonFinite int64
	for _, t := range res.Tensors {
		if t.Scanned {
			scanned++
			nonFinite += t.NaN + t.PosInf + t.NegInf
		}
	}
	fmt.Fprintf(tw, "values\t%d of %d tensors scanned, %d NaN/Inf values, %.2fs\n", scanned, len(res.Tensors), nonFinite, res.Elapsed.Seconds())
	tw.Flush()

	rows := res.Tensors
	if !all {
		rows = nil
		for _, t := range res.Tensors {
			if t.Problem != "" {
				rows = append(rows, t)
			}
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "name\tdtype\tshape\tmin\tmax\tmean\tstd\tzeros\tnan\tinf\tproblem")
		for _, t := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%.4g\t%.4g\t%.4g\t%.4g\t%d\t%d\t%d\t%s\n", t.Name, t.DType, t.Shape,
				t.Min, t.Max, t.Mean, t.Std, t.Zero, t.NaN, t.PosInf+t.NegInf, firstNonEmpty(t.Problem, t.Note))
		}
		tw.Flush()
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings")
		for _, p := range res.Warnings {
			fmt.Fprintln(w, "  "+p)
		}
	}
	if len(res.Problems) > 0 {
		fmt.Fprintln(w, "\nproblems")
		for _, p := range res.Problems {
			fmt.Fprintln(w, "  "+p)
		}
	} else {
		fmt.Fprintln(w, "\nok: no problems found")
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
