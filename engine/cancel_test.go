package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"mlmf/formats"
	"mlmf/internal/atomicfile"
)

// TestCancelLeavesTargetAsItWas cancels ExportGGUF and Convert from their
// progress callbacks, mid-run, with the target absent and with an older
// file in its place: afterwards the target is as it was (absent, or the old
// bytes) and the directory holds nothing else — no temporary files.
func TestCancelLeavesTargetAsItWas(t *testing.T) {
	t.Parallel()
	src := demoDir(t)
	jobs := map[string]func(ctx context.Context, out string, progress func(Progress)) error{
		"export": func(ctx context.Context, out string, progress func(Progress)) error {
			_, err := ExportGGUF(ctx, ExportRequest{Source: src, Output: out, Type: formats.Q8_0}, progress)
			return err
		},
		"convert": func(ctx context.Context, out string, progress func(Progress)) error {
			_, err := Convert(ctx, ConvertRequest{Source: src, Output: out, DType: formats.F32}, progress)
			return err
		},
	}
	old := []byte("an older model that must survive a cancelled write\n")
	for name, job := range jobs {
		for _, previous := range []bool{false, true} {
			for _, at := range []int{1, 10, 20} { // after the first, a middle and the next-to-last tensor
				dir := t.TempDir()
				out := filepath.Join(dir, "model.out")
				if previous {
					if err := os.WriteFile(out, old, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				seen := 0
				err := job(ctx, out, func(p Progress) {
					seen = p.Index
					if p.Index == at {
						cancel()
					}
				})
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s (previous=%v, cancel after %d): err %v, want context.Canceled", name, previous, at, err)
				}
				if seen != at {
					t.Errorf("%s: progress went on to tensor %d after the cancel at %d", name, seen, at)
				}
				ents, _ := os.ReadDir(dir)
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				if previous {
					b, err := os.ReadFile(out)
					if err != nil || !bytes.Equal(b, old) {
						t.Errorf("%s (cancel after %d): the older file changed: %q, %v", name, at, b, err)
					}
					if !slices.Equal(names, []string{"model.out"}) {
						t.Errorf("%s (cancel after %d): directory holds %v, want only the older file", name, at, names)
					}
				} else if len(names) != 0 {
					t.Errorf("%s (cancel after %d): directory holds %v, want nothing", name, at, names)
				}
				if left, _ := atomicfile.Leftovers(dir); len(left) != 0 {
					t.Errorf("%s (cancel after %d): temporary files left: %v", name, at, left)
				}
			}
		}
	}
}
