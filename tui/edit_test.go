package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlmf/formats/gguf"
	"mlmf/tui/common"
)

// copyTinyGGUF copies formats/gguf/testdata/tiny.gguf (general.architecture
// and llama.block_count) into a temporary directory.
func copyTinyGGUF(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "formats", "gguf", "testdata", "tiny.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readKV(t *testing.T, path, key string) (gguf.KV, bool) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Get(key)
}

// The shown metadata holds key = value after a reload.
func (h *harness) metaShows(key, value string) bool {
	if h.m.meta.Writing() || h.m.cp == nil {
		return false
	}
	for _, kv := range h.m.cp.Meta {
		if kv.Key == key {
			return kv.Value == value
		}
	}
	return value == ""
}

// open a GGUF → Metadata → set, add and delete keys with a confirm each;
// the file on disk has the new values and the pane shows them.
func TestFlowMetadataEdit(t *testing.T) {
	t.Parallel()
	p := copyTinyGGUF(t)
	h := newHarness(t, Options{Path: p, Deps: testDeps(t)}, 100, 30)
	h.waitFor("the GGUF to open", func() bool { return h.m.cp != nil })
	h.keys("3")
	if s := h.plain(); !strings.Contains(s, "e edits the value") {
		t.Fatalf("no edit hint for a GGUF:\n%s", s)
	}

	// set an existing key: same header size, rewritten in place
	h.keys("<down>", "e")
	if s := h.plain(); !strings.Contains(s, "llama.block_count = int:1") {
		t.Fatalf("edit prompt:\n%s", s)
	}
	h.keys("<ctrl+u>", "int:3", "<enter>")
	if s := h.plain(); !strings.Contains(s, "Set llama.block_count=int:3 in "+p+"?") {
		t.Fatalf("no confirm:\n%s", s)
	}
	h.keys("y")
	h.waitFor("the reload", func() bool { return h.metaShows("llama.block_count", "3") })
	if kv, ok := readKV(t, p, "llama.block_count"); !ok || kv.Value != uint32(3) {
		t.Errorf("on disk: %+v", kv)
	}
	if h.m.Active() != common.PaneMetadata || !strings.Contains(h.plain(), "header rewritten in place") {
		t.Errorf("after the edit:\n%s", h.plain())
	}

	// add a key: the file is rewritten
	h.keys("a", "general.name=str:edited by mlmf", "<enter>", "y")
	h.waitFor("the added key", func() bool { return h.metaShows("general.name", "edited by mlmf") })
	if kv, ok := readKV(t, p, "general.name"); !ok || kv.Value != "edited by mlmf" || kv.Type != gguf.TypeString {
		t.Errorf("on disk: %+v", kv)
	}

	// a bad value is refused before the confirm; nothing is written
	before, _ := os.ReadFile(p)
	h.keys("a", "x=blob:1", "<enter>")
	h.waitFor("the error", func() bool { return h.m.Err() != nil })
	if !strings.Contains(h.m.Err().Error(), "unknown type") || !h.m.meta.Capturing() {
		t.Errorf("bad override: err %v", h.m.Err())
	}
	h.keys("<esc>")

	// delete, after saying no once
	h.keys("g")
	for _, kv := range h.m.cp.Meta {
		if kv.Key == "general.name" {
			break
		}
		h.keys("<down>")
	}
	h.keys("d", "n")
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Error("the file changed without a confirm")
	}
	h.keys("d")
	if s := h.plain(); !strings.Contains(s, "Delete general.name in") {
		t.Fatalf("delete confirm:\n%s", s)
	}
	h.keys("y")
	h.waitFor("the deleted key", func() bool { return h.metaShows("general.name", "") })
	if _, ok := readKV(t, p, "general.name"); ok {
		t.Error("general.name still on disk")
	}
}

// Metadata of other formats is read-only, with a hint.
func TestMetadataReadOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{Path: demoDir, Deps: testDeps(t)}, 100, 30)
	opened(h)
	h.keys("3")
	if s := h.plain(); !strings.Contains(s, "Read-only: only GGUF metadata can be edited") {
		t.Errorf("no hint:\n%s", s)
	}
	h.keys("e")
	h.waitFor("the error", func() bool { return h.m.Err() != nil })
	if err := h.m.Err(); !strings.Contains(err.Error(), "only GGUF metadata can be edited") {
		t.Errorf("edit on safetensors: %v", err)
	}
	if h.m.meta.Capturing() {
		t.Error("a prompt opened on a read-only checkpoint")
	}
}
