package main

import (
	"os"
	"strings"
	"testing"

	"mlmf/tui/keymap"
)

func TestKeysMarkdown(t *testing.T) {
	code, out, errOut := runCLI(t, "--keys-markdown")
	if code != 0 || !strings.Contains(out, "| Tensors | `/` | search |") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
}

// The README's key table is the generated one.
func TestREADMEKeyTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), keymap.Default().Markdown()) {
		t.Error("README.md's key table is out of date: replace it with the output of mlmf --keys-markdown")
	}
}

func TestGPUStatusUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, "gpu"); code != 1 || !strings.Contains(errOut, "usage: mlmf gpu status") {
		t.Errorf("mlmf gpu: exit %d, %q", code, errOut)
	}
	// Without a GPU this prints why; with one, a line per device. Either way
	// it succeeds.
	code, out, errOut := runCLI(t, "gpu", "status")
	if code != 0 || !(strings.Contains(out, "no GPU found") || strings.Contains(out, "device(s)")) {
		t.Errorf("mlmf gpu status: exit %d, out %q, err %q", code, out, errOut)
	}
}
