package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"mlmf/engine"
	"mlmf/gpu"
	"mlmf/internal/demo"
	"mlmf/tui"
	"mlmf/tui/common"
	"mlmf/tui/keymap"
	"mlmf/tui/sources"
)

// runTUI opens the workbench on PATH, or on the embedded demo without one.
func runTUI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mlmf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	budget := fs.String("cache", "", "cache budget for decoded tensors and statistics (default: an eighth of RAM)")
	keys := fs.Bool("keys-markdown", false, "print the key bindings as a Markdown table (for the README) and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlmf [PATH] [--cache 2GB]\n\nOpens the workbench on PATH (the embedded demo checkpoint without one).")
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
	if *keys {
		fmt.Fprint(stdout, keymap.Default().Markdown())
		return nil
	}
	var size int64
	if *budget != "" {
		if size, err = parseSize(*budget); err != nil {
			return fmt.Errorf("--cache: %w", err)
		}
	}
	path := ""
	if len(pos) == 1 {
		path = pos[0]
	} else if path, err = demo.Path(); err != nil {
		return err
	}
	deps := common.Deps{
		Jobs:        engine.NewJobs(),
		Cache:       engine.NewCache(size),
		GPUInterval: time.Second,
		Mapping:     sources.Mapping{},
		Preview:     sources.Preview{},
	}
	if dir, err := os.UserConfigDir(); err == nil {
		deps.ConfigDir = filepath.Join(dir, "mlmf")
	}
	mon, err := gpu.Open()
	if err != nil {
		deps.GPUErr = err
	} else {
		deps.GPU = mon
		defer mon.Close()
	}
	err = tui.Run(ctx, tui.Options{Path: path, Deps: deps})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
