package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"mlmf/engine"
	"mlmf/tui/common"
)

// harness drives the root model the way a Program does: commands run in
// their own goroutines and their messages come back through one queue, and
// engine events arrive through Forward. Tests wait for conditions on the
// model instead of sleeping.
type harness struct {
	t    *testing.T
	m    *Model
	msgs chan tea.Msg
	cmds sync.WaitGroup // commands still running
}

// demoDir is the committed demo checkpoint; a relative path keeps golden
// files the same on every machine.
const demoDir = "../internal/demo/checkpoint"

func testDeps(t *testing.T) common.Deps {
	return common.Deps{
		Jobs:      engine.NewJobs(),
		Cache:     engine.NewCache(64 << 20),
		ConfigDir: t.TempDir(),
		Now:       func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
}

func newHarness(t *testing.T, opt Options, w, h int) *harness {
	t.Helper()
	hs := &harness{t: t, m: New(opt), msgs: make(chan tea.Msg, 4096)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		// let running commands (a recent.json write, say) finish before
		// the temporary directories go
		done := make(chan struct{})
		go func() { hs.cmds.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("commands still running at the end of the test")
		}
		hs.m.c.Deps.Jobs.CancelAll()
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := hs.m.c.Deps.Jobs.WaitIdle(wctx); err != nil {
			t.Errorf("jobs still running at the end of the test: %v", err)
		}
		cancel()
		if cp := hs.m.cp; cp != nil {
			cp.Close()
		}
	})
	go Forward(hs.m.c.Deps.Jobs.Subscribe(ctx), func(msg tea.Msg) { hs.msgs <- msg })
	hs.update(tea.WindowSizeMsg{Width: w, Height: h})
	hs.exec(hs.m.Init())
	return hs
}

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	h.cmds.Add(1)
	go func() {
		defer h.cmds.Done()
		if msg := cmd(); msg != nil {
			h.msgs <- msg
		}
	}()
}

func (h *harness) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.exec(c)
		}
		return
	case tea.QuitMsg:
		return
	}
	_, cmd := h.m.Update(msg)
	h.exec(cmd)
}

// waitFor processes messages until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.update(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.plain())
		}
	}
}

// settle processes messages until none arrives for a moment.
func (h *harness) settle() {
	for {
		select {
		case msg := <-h.msgs:
			h.update(msg)
		case <-time.After(150 * time.Millisecond):
			return
		}
	}
}

// keys sends key presses: single characters as text, names in angle
// brackets (<enter>, <down>, <ctrl+s>…).
func (h *harness) keys(seq ...string) {
	for _, s := range seq {
		for _, k := range parseKeys(s) {
			h.update(k)
		}
	}
}

func parseKeys(s string) []tea.KeyPressMsg {
	named := map[string]tea.KeyPressMsg{
		"<enter>": {Code: tea.KeyEnter}, "<esc>": {Code: tea.KeyEscape}, "<tab>": {Code: tea.KeyTab},
		"<down>": {Code: tea.KeyDown}, "<up>": {Code: tea.KeyUp}, "<left>": {Code: tea.KeyLeft},
		"<right>": {Code: tea.KeyRight}, "<bs>": {Code: tea.KeyBackspace}, "<space>": {Code: tea.KeySpace, Text: " "},
		"<ctrl+s>": {Code: 's', Mod: tea.ModCtrl}, "<ctrl+u>": {Code: 'u', Mod: tea.ModCtrl},
		"<ctrl+c>": {Code: 'c', Mod: tea.ModCtrl},
	}
	if k, ok := named[s]; ok {
		return []tea.KeyPressMsg{k}
	}
	var out []tea.KeyPressMsg
	for _, r := range s {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// plain is the screen without escape codes.
func (h *harness) plain() string { return ansi.Strip(h.m.Render()) }

// rendered is the screen downsampled to the 16-colour ANSI profile, the
// fixed profile golden files use.
func (h *harness) rendered() string {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ANSI}
	if _, err := w.WriteString(h.m.Render()); err != nil {
		h.t.Fatal(err)
	}
	return buf.String()
}

func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.rendered()
	// every frame fits the terminal exactly
	lines := strings.Split(got, "\n")
	if len(lines) != h.m.c.Height {
		h.t.Errorf("%s: %d lines, want %d", name, len(lines), h.m.c.Height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > h.m.c.Width {
			h.t.Errorf("%s: line %d is %d cells wide, terminal has %d", name, i, w, h.m.c.Width)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (create golden files with UPDATE_GOLDEN=1 go test ./tui)", err)
	}
	if got != string(want) {
		h.t.Errorf("%s differs from its golden file (UPDATE_GOLDEN=1 to accept); got:\n%s", name, ansi.Strip(got))
	}
}

func wheelDown() tea.MouseWheelMsg { return tea.MouseWheelMsg{Button: tea.MouseWheelDown} }

func ansiStrip(s string) string { return ansi.Strip(s) }
