package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// isBatch reports whether convert's positional arguments ask for a batch:
// more than one source (SRC… OUTDIR) or a glob as the source
// ('models/*' OUTDIR). The conversions a batch runs are never batches
// themselves, whatever their paths contain.
func isBatch(ctx context.Context, pos []string) bool {
	if ctx.Value(batchChild{}) != nil {
		return false
	}
	return len(pos) > 2 || len(pos) == 2 && hasGlobMeta(pos[0])
}

type batchChild struct{}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// batchJob is one source of a batch and how its conversion went.
type batchJob struct {
	src, dst  string
	status    string // ok, failed, cancelled
	err       string
	in, out   int64
	elapsed   time.Duration
	converted string // convert's own summary line
}

// runBatch is `mlmf convert SRC… OUTDIR` and `mlmf convert 'GLOB' OUTDIR`:
// the sources are converted one after the other with the same flags, each
// into OUTDIR under its own name; a failure does not stop the queue (a
// cancel does). One table at the end says how each went; the error is
// non-nil when any failed.
func runBatch(ctx context.Context, pos []string, flags *flag.FlagSet, stdout, stderr io.Writer) error {
	outDir := pos[len(pos)-1]
	if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
		return fmt.Errorf("convert: %s is a file: with several sources or a glob the last argument is the output directory", outDir)
	}
	// Every flag the user set is passed on to each conversion as is.
	var pass []string
	flags.Visit(func(f *flag.Flag) { pass = append(pass, "--"+f.Name+"="+f.Value.String()) })
	to := "safetensors"
	if f := flags.Lookup("to"); f != nil {
		to = f.Value.String()
	}
	sharded := false
	if f := flags.Lookup("shard-size"); f != nil && f.Value.String() != "" {
		sharded = true
	}

	var jobs []*batchJob
	used := map[string]bool{}
	absOut, _ := filepath.Abs(outDir)
	for _, arg := range pos[:len(pos)-1] {
		srcs := []string{arg}
		if hasGlobMeta(arg) {
			m, err := filepath.Glob(arg)
			if err != nil || len(m) == 0 {
				jobs = append(jobs, &batchJob{src: arg, status: "failed", err: "no file or directory matches the pattern"})
				continue
			}
			srcs = m
		}
		for _, src := range srcs {
			if a, _ := filepath.Abs(src); a == absOut {
				continue // the output directory inside its own glob
			}
			jobs = append(jobs, &batchJob{src: src, dst: batchOutput(outDir, src, to, sharded, used)})
		}
	}
	if len(jobs) == 0 {
		return fmt.Errorf("convert: no sources")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("convert: output directory: %w", err)
	}

	for i, j := range jobs {
		if j.status != "" {
			continue
		}
		if ctx.Err() != nil {
			j.status, j.err = "cancelled", "not started"
			continue
		}
		fmt.Fprintf(stderr, "[%d/%d] %s → %s\n", i+1, len(jobs), j.src, j.dst)
		j.in = pathSize(j.src)
		var out bytes.Buffer
		start := time.Now()
		err := runConvert(context.WithValue(ctx, batchChild{}, true), append([]string{j.src, j.dst}, pass...), &out, stderr)
		j.elapsed = time.Since(start)
		j.converted = strings.TrimSpace(out.String())
		switch {
		case err == nil:
			j.status = "ok"
			j.out = pathSize(j.dst)
		case ctx.Err() != nil:
			j.status, j.err = "cancelled", err.Error()
		default:
			j.status = "failed"
			if errors.Is(err, errUsage) {
				j.err = "invalid arguments"
			} else {
				j.err = err.Error()
			}
			fmt.Fprintf(stderr, "[%d/%d] %s failed: %v\n", i+1, len(jobs), j.src, err)
		}
	}
	return batchSummary(jobs, stdout)
}

// batchOutput is where a source goes in OUTDIR: its base name (a directory's
// name, a file's name without extension) with the target's extension, made
// unique within the batch.
func batchOutput(outDir, src, to string, sharded bool, used map[string]bool) string {
	base := filepath.Base(filepath.Clean(src))
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		base = strings.TrimSuffix(base, filepath.Ext(base))
	}
	ext := ""
	switch {
	case to == "gguf":
		ext = ".gguf"
	case to == "safetensors" && !sharded:
		ext = ".safetensors"
	}
	name := base + ext
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s-%d%s", base, n, ext)
	}
	used[name] = true
	return filepath.Join(outDir, name)
}

// pathSize is the size of a file or of every file under a directory.
func pathSize(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func batchSummary(jobs []*batchJob, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nsource\tstatus\tinput\toutput\ttime\toutput path / error")
	var failed, ok int
	var in, out int64
	var total time.Duration
	for _, j := range jobs {
		size, outSize, took, detail := "", "", "", j.dst
		if j.in > 0 {
			size = humanBytes(j.in)
		}
		if j.elapsed > 0 {
			took = fmt.Sprintf("%.2fs", j.elapsed.Seconds())
		}
		switch j.status {
		case "ok":
			ok++
			outSize = humanBytes(j.out)
			in += j.in
			out += j.out
		case "failed":
			failed++
			detail = firstLine(j.err)
		default:
			detail = firstLine(j.err)
		}
		total += j.elapsed
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.src, j.status, size, outSize, took, detail)
	}
	fmt.Fprintf(tw, "%d sources\t%d ok, %d failed\t%s\t%s\t%.2fs\t\n", len(jobs), ok, failed, humanBytes(in), humanBytes(out), total.Seconds())
	if err := tw.Flush(); err != nil {
		return err
	}
	if ok != len(jobs) {
		return fmt.Errorf("convert: %d of %d sources did not convert (see the table above)", len(jobs)-ok, len(jobs))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
