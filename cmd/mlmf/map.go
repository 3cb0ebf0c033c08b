package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"mlmf/engine"
)

func runMap(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	fs.SetOutput(stderr)
	arch := fs.String("arch", "", "use this architecture instead of detecting it")
	rules := fs.String("rules", "", "user mapping file (YAML) merged over the built-in rules")
	suggest := fs.Bool("suggest", false, "rank canonical names for unmapped tensors")
	top := fs.Int("top", 3, "suggestions per unmapped tensor with --suggest")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	all := fs.Bool("all", false, "list every mapped tensor, not only the problems")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf map PATH [--arch A] [--rules FILE] [--suggest] [--json]")
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
	req := engine.MapRequest{Path: pos[0], Arch: *arch, RulesFile: *rules}
	if *suggest {
		req.Suggest = *top
	}
	res, err := engine.Map(req)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	d := res.Detection
	fmt.Fprintf(stdout, "architecture  %s (%s, confidence %.2f)\n", d.Arch, d.Source, d.Confidence)
	fmt.Fprintf(stdout, "reason        %s\n", d.Reason)
	if d.Ambiguous {
		fmt.Fprintf(stdout, "ambiguous     names and shapes cannot tell apart: %s\n", strings.Join(d.Candidates, ", "))
	}
	rep := res.Report
	s := rep.Summary
	fmt.Fprintf(stdout, "tensors       %d: %d mapped, %d skipped, %d unmapped, %d missing, %d shape mismatches, %d collisions\n",
		s.Tensors, s.Mapped, s.Skipped, s.Unmapped, s.Missing, s.ShapeMismatches, s.Collisions)
	if *all {
		fmt.Fprintln(stdout, "\nmapped")
		for _, m := range rep.Mapped {
			fmt.Fprintf(stdout, "  %-55s → %s\n", m.HF, m.Canonical)
		}
	}
	section := func(title string, n int) bool {
		if n > 0 {
			fmt.Fprintf(stdout, "\n%s\n", title)
		}
		return n > 0
	}
	if section("unmapped", len(rep.Unmapped)) {
		for _, u := range rep.Unmapped {
			fmt.Fprintf(stdout, "  %s %v", u.Name, u.Shape)
			if u.Reason != "" {
				fmt.Fprintf(stdout, "  (%s)", u.Reason)
			}
			fmt.Fprintln(stdout)
		}
	}
	if section("missing", len(rep.Missing)) {
		for _, m := range rep.Missing {
			fmt.Fprintf(stdout, "  %s (expected as %s)\n", m.Canonical, m.HF)
		}
	}
	if section("shape mismatches", len(rep.ShapeMismatches)) {
		for _, m := range rep.ShapeMismatches {
			fmt.Fprintf(stdout, "  %s → %s: %v, config implies %v\n", m.HF, m.Canonical, m.Shape, m.Expected)
		}
	}
	if section("collisions", len(rep.Collisions)) {
		for _, c := range rep.Collisions {
			fmt.Fprintf(stdout, "  %s claimed by %s\n", c.Canonical, strings.Join(c.HF, ", "))
		}
	}
	if section("suggestions", len(res.Suggestions)) {
		for _, ns := range res.Suggestions {
			fmt.Fprintf(stdout, "  %s %v\n", ns.Name, ns.Shape)
			for i, sg := range ns.Suggestions {
				fmt.Fprintf(stdout, "    %d. %-40s %.2f  %s\n", i+1, sg.Canonical, sg.Score, sg.Reason)
			}
		}
	}
	if !s.OK {
		return fmt.Errorf("map: %s does not map cleanly (see above; --suggest proposes names, --rules FILE adds rules)", pos[0])
	}
	return nil
}
