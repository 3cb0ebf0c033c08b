package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"mlmf/engine"
)

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print every tensor's comparison and the totals as JSON")
	arch := fs.String("arch", "", "architecture of both sides instead of the detected ones")
	all := fs.Bool("all", false, "list equal tensors too")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf diff A B [--json] [--arch A] [--all]")
		fmt.Fprintln(stderr, "Compares two checkpoints under canonical (GGUF) names, e.g. an HF directory and its GGUF:")
		fmt.Fprintln(stderr, "missing, extra, shape and dtype differences, and per-tensor RMSE, max abs error, SNR and")
		fmt.Fprintln(stderr, "cosine of B against A (as `mlmf preview` measures a round trip). Exits 1 when they differ.")
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
	res, err := engine.Diff(ctx, engine.DiffRequest{A: pos[0], B: pos[1], Arch: *arch}, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		// JSON has no infinities: SNR of equal tensors is written as null.
		type row struct {
			engine.DiffRow
			SNR *float64 `json:"snr_db"`
		}
		conv := func(r engine.DiffRow) row {
			out := row{DiffRow: r}
			if !math.IsInf(r.SNR, 0) && !math.IsNaN(r.SNR) {
				v := r.SNR
				out.SNR = &v
			}
			out.DiffRow.SNR = 0
			return out
		}
		rows := make([]row, len(res.Rows))
		for i, r := range res.Rows {
			rows[i] = conv(r)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			A          engine.DiffSide `json:"a"`
			B          engine.DiffSide `json:"b"`
			Rows       []row           `json:"tensors"`
			Total      row             `json:"total"`
			Missing    []string        `json:"missing"`
			Extra      []string        `json:"extra"`
			ShapeDiffs []string        `json:"shape_diffs"`
			DTypeDiffs []string        `json:"dtype_diffs"`
			Identical  bool            `json:"identical"`
		}{res.A, res.B, rows, conv(res.Total), res.Missing, res.Extra, res.ShapeDiffs, res.DTypeDiffs, res.Identical}); err != nil {
			return err
		}
	} else {
		printDiff(stdout, res, *all)
	}
	if !res.Identical {
		return fmt.Errorf("diff: %s and %s differ", pos[0], pos[1])
	}
	return nil
}

func printDiff(w io.Writer, res *engine.DiffResult, all bool) {
	side := func(s engine.DiffSide) string {
		arch := s.Arch
		if arch == "" {
			arch = "architecture not detected: names as stored"
		}
		return fmt.Sprintf("%s (%s, %s)", s.Path, s.Format, arch)
	}
	fmt.Fprintf(w, "A  %s\nB  %s\n\n", side(res.A), side(res.B))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tstatus\tdtype\tshape\trmse\tmax abs\tsnr dB\tcosine\tnote")
	line := func(r engine.DiffRow) {
		dt := r.DTypeA
		if r.DTypeB != r.DTypeA {
			dt = strings.Trim(r.DTypeA+"→"+r.DTypeB, "→")
		}
		shape := fmt.Sprint(r.ShapeA)
		if r.Name == "total" && r.A == "" && r.B == "" {
			shape = ""
		} else if r.ShapeA == nil {
			shape = fmt.Sprint(r.ShapeB)
		} else if r.ShapeB != nil && fmt.Sprint(r.ShapeB) != shape {
			shape += "→" + fmt.Sprint(r.ShapeB)
		}
		note := r.Note
		if r.Transform != "" {
			note = strings.TrimPrefix(note+"; "+r.Transform, "; ")
		}
		switch r.Status {
		case engine.DiffEqual, engine.DiffDiffer:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3g\t%.3g\t%.2f\t%.6f\t%s\n", r.Name, r.Status, dt, shape, r.RMSE, r.MaxAbs, r.SNR, r.Cosine, note)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\t\t%s\n", r.Name, r.Status, dt, shape, note)
		}
	}
	shown := 0
	for _, r := range res.Rows {
		if all || r.Status != engine.DiffEqual {
			line(r)
			shown++
		}
	}
	line(res.Total)
	tw.Flush()
	if shown < len(res.Rows) {
		fmt.Fprintf(w, "(%d equal tensors not listed; --all lists them)\n", len(res.Rows)-shown)
	}
	fmt.Fprintf(w, "\n%d tensors: %d missing from B, %d extra in B, %d shape and %d dtype differences",
		len(res.Rows), len(res.Missing), len(res.Extra), len(res.ShapeDiffs), len(res.DTypeDiffs))
	if res.Identical {
		fmt.Fprintln(w, "; values identical")
	} else {
		fmt.Fprintln(w, "; they differ")
	}
}
