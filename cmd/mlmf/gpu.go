package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"mlmf/gpu"
	"mlmf/tui"
)

// runGPU: `mlmf gpu status [--watch] [--interval 1s] [--frame N]`.
func runGPU(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(stderr, "usage: mlmf gpu status [--watch] [--interval 1s] [--frame N [--width 100 --height 30]]")
		return errUsage
	}
	fs := flag.NewFlagSet("gpu status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	watch := fs.Bool("watch", false, "print a snapshot every interval until interrupted")
	interval := fs.Duration("interval", time.Second, "time between snapshots")
	frame := fs.Int("frame", 0, "print the TUI's GPU screen once, after N readings one interval apart")
	width := fs.Int("width", 100, "frame width (with --frame)")
	height := fs.Int("height", 30, "frame height (with --frame)")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	mon, err := gpu.Open()
	if err != nil {
		if errors.Is(err, gpu.ErrNoGPU) {
			fmt.Fprintln(stdout, err)
			return nil
		}
		return err
	}
	defer mon.Close()
	if *frame > 0 {
		fmt.Fprintln(stdout, tui.GPUFrame(mon, *frame, *interval, *width, *height))
		return nil
	}
	for {
		s, err := mon.Snapshot()
		if err != nil {
			return err
		}
		if *watch {
			fmt.Fprintf(stdout, "— %s\n", s.At.Format(time.TimeOnly))
		}
		fmt.Fprint(stdout, gpu.Format(s))
		if !*watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}
