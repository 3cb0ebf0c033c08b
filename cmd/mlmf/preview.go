package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"

	"mlmf/engine"
)

func runPreview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "", "target: a dtype (F16, BF16, F8_E4M3), a ggml type (Q8_0, Q4_K) or a preset (Q4_K_M; GGUF sources)")
	asJSON := fs.Bool("json", false, "print rows and totals as JSON")
	sortBy := fs.String("sort", "snr", "order of the table: snr (worst first), rmse, size, name")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf preview MODEL --type Q4_K_M [--json] [--sort snr|rmse|size|name]")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *typ == "" {
		fs.Usage()
		return errUsage
	}
	res, err := engine.Preview(ctx, engine.PreviewRequest{Path: pos[0], Target: *typ}, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		// JSON has no infinities: an exact round trip's SNR is written as null.
		type row struct {
			engine.PreviewRow
			SNR *float64 `json:"snr_db"`
		}
		conv := func(r engine.PreviewRow) row {
			out := row{PreviewRow: r}
			if !math.IsInf(r.SNR, 0) {
				v := r.SNR
				out.SNR = &v
			}
			out.PreviewRow.SNR = 0
			return out
		}
		rows := make([]row, len(res.Rows))
		for i, r := range res.Rows {
			rows[i] = conv(r)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Target string `json:"target"`
			Rows   []row  `json:"tensors"`
			Total  row    `json:"total"`
		}{res.Target, rows, conv(res.Total)})
	}
	rows := append([]engine.PreviewRow(nil), res.Rows...)
	switch *sortBy {
	case "snr":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].SNR < rows[j].SNR })
	case "rmse":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].RMSE > rows[j].RMSE })
	case "size":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].BytesBefore > rows[j].BytesBefore })
	case "name":
	default:
		return fmt.Errorf("preview: --sort %q: want snr, rmse, size or name", *sortBy)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tfrom\tto\trmse\tmax abs\tsnr dB\tcosine\tbytes before\tbytes after")
	line := func(r engine.PreviewRow) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3g\t%.3g\t%.2f\t%.6f\t%s\t%s\n", r.Name, r.FromName, r.ToName, r.RMSE, r.MaxAbs, r.SNR, r.Cosine,
			humanBytes(r.BytesBefore), humanBytes(r.BytesAfter))
	}
	for _, r := range rows {
		line(r)
	}
	t := res.Total
	t.FromName, t.ToName = "", res.Target
	line(t)
	return tw.Flush()
}
