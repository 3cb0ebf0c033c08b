// Package tui's layout, for whoever adds a pane:
//
//   - tui (this package): the root model. It owns the tab bar, the status bar
//     and the help bar, routes messages to panes, opens checkpoints (Load, in a
//     command) and forwards the engine's event stream (Forward, one goroutine
//     calling Program.Send).
//   - tui/common: what the root shares with panes: sizes, styles, keys, the
//     engine handles (Deps), the Pane contract and the messages panes
//     exchange through the root (OpenMsg, InspectMsg, EventMsg, ErrorMsg …),
//     and the interfaces the mapping and preview engines plug into
//     (MappingSource, the optional MappingFixer, PreviewSource).
//   - tui/sources: the implementations of those interfaces over the engine
//     and the mapping package; the binary wires them in, flow tests use
//     them to drive the real thing.
//   - one package per pane: tensors, inspect, metadata, mapping, preview,
//     convert, jobs, gpupane, keyhelp (the help screen) and open.
//   - tui/keymap: every key binding; the help bar, the help screen and
//     `mlmf tui --keys-markdown` (the README's table) come from it.
//   - tui/styles: the palette and every lipgloss style; panes never build
//     their own.
//
// Rules the panes keep: no IO or heavy work in Update (commands do it and
// answer with a message), commands never touch model state, and results
// that can arrive late (searches, statistics, selections, directory
// listings) carry a sequence number or identity so that a stale one is
// dropped. Golden files of every screen live in testdata (UPDATE_GOLDEN=1
// go test ./tui rewrites them), flows are driven by key messages against
// the real engine, and BenchmarkSearch times key press to results on screen.
package tui
