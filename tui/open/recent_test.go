package open

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRecentRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mlmf")
	if l, err := LoadRecent(dir); err != nil || l != nil {
		t.Fatalf("missing file: %v %v", l, err)
	}
	var l []string
	for i := range MaxRecent + 5 {
		l = pushRecent(l, filepath.Join("/m", string(rune('a'+i))))
	}
	l = pushRecent(l, "/m/c") // moves to the front, no duplicate
	if len(l) != MaxRecent || l[0] != "/m/c" || slices.Index(l[1:], "/m/c") >= 0 {
		t.Fatalf("list %v", l)
	}
	if err := SaveRecent(dir, l); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecent(dir)
	if err != nil || !slices.Equal(got, l) {
		t.Fatalf("loaded %v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recent.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRecent(dir); err == nil {
		t.Error("corrupt recent.json loaded without error")
	}
}

func TestListDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"model.safetensors", "notes.txt", ".hidden.safetensors", "x.gguf"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "shards"), 0o755)
	ents, err := listDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, filepath.Base(e.Path))
	}
	if !slices.Equal(names, []string{"shards", "model.safetensors", "x.gguf"}) {
		t.Errorf("listed %v", names)
	}
	ents, _ = listDir(dir, "mo")
	if len(ents) != 1 {
		t.Errorf("prefix listing %v", ents)
	}
}
