// Package demo embeds mlmf's demo checkpoint: a tiny LLaMA-shaped model with
// config.json and a byte-level BPE tokenizer, made by `make fixtures`
// (internal/cmd/fixtures). It is what `mlmf` opens when given no path.
package demo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed checkpoint
var files embed.FS

// FS returns the demo checkpoint's files (config.json, model.safetensors, …).
func FS() fs.FS {
	sub, err := fs.Sub(files, "checkpoint")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Path extracts the demo checkpoint into the user cache directory (once per
// content version) and returns the directory.
func Path() (string, error) {
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	return Extract(filepath.Join(root, "mlmf"))
}

// Extract writes the demo into parent/demo-<hash> unless it is already there,
// atomically (a temporary directory renamed into place).
func Extract(parent string) (string, error) {
	fsys := FS()
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	dir := filepath.Join(parent, "demo-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".demo-tmp-")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, n), b, 0o644); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "config.json")); statErr == nil {
			return dir, nil // another process won the race
		}
		return "", fmt.Errorf("demo: %w", err)
	}
	return dir, nil
}
