package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlmf/internal/demo"
)

// TestConvertBatch: a glob over three sources, one of them broken, converts
// the other two, reports all three in one table and exits non-zero.
func TestConvertBatch(t *testing.T) {
	models := t.TempDir()
	for _, name := range []string{"a", "c"} {
		dir, err := demo.Extract(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dir, filepath.Join(models, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(models, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "b", "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "convert", filepath.Join(models, "*"), out, "--to", "gguf", "--type", "Q8_0")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one source failed)\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"a", "c"} {
		if _, err := os.Stat(filepath.Join(out, want+".gguf")); err != nil {
			t.Errorf("%s was not converted: %v", want, err)
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], " ok ") || !strings.Contains(lines[2], " failed ") ||
		!strings.Contains(lines[3], " ok ") || !strings.Contains(lines[4], "1 failed") {
		t.Fatalf("summary table:\n%s", stdout)
	}

	// Several sources given one by one, all fine: exit 0.
	code, stdout, stderr = runCLI(t, "convert", filepath.Join(models, "a"), filepath.Join(models, "c"), out, "--dtype", "F16")
	if code != 0 || !strings.Contains(stdout, "2 ok, 0 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "c.safetensors")); err != nil {
		t.Fatal(err)
	}
}
