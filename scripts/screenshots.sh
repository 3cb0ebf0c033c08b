#!/usr/bin/env bash
# Regenerates screenshots/*.png: runs mlmf on the embedded demo in a detached
# tmux session at 100x30, sends the keys that reach each screen, captures the
# pane with its colours (tmux capture-pane -e -p) and renders the capture
# with freeze (go install github.com/charmbracelet/freeze@v0.2.2).
# screenshots/gpu-h200.ansi, a capture taken on a machine with a GPU, is
# rendered too when present.
set -euo pipefail
cd "$(dirname "$0")/.."

W=${W:-100}
H=${H:-30}
OUT=screenshots
FREEZE=${FREEZE:-$(command -v freeze || echo "$(go env GOPATH)/bin/freeze")}
command -v tmux >/dev/null || { echo "screenshots: tmux is needed" >&2; exit 1; }
[ -x "$FREEZE" ] || { echo "screenshots: freeze is needed: go install github.com/charmbracelet/freeze@v0.2.2" >&2; exit 1; }

# a fixed place, so that the paths on screen are the same on every run
work=/tmp/mlmf-screenshots
rm -rf "$work"
mkdir -p "$work"
sock="mlmf-shots-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/mlmf" ./cmd/mlmf
mkdir -p "$OUT" "$work/cache" "$work/config"

start() { # start the app fresh on PATH, or on the demo without one
	tmux -L "$sock" kill-server 2>/dev/null || true
	sleep 0.5 # let the old server go before a new one starts
	tmux -L "$sock" new-session -d -s shots -x "$W" -y "$H" \
		"env XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config TERM=xterm-256color COLORTERM=truecolor $work/mlmf ${1:-}"
	sleep 1.5
}
keys() { tmux -L "$sock" send-keys -t shots "$@"; sleep "${PAUSE:-0.6}"; }
# freeze 0.2.2 ignores SGR 49 (default background), so the background of a
# highlighted tab would run on: spell the default out as freeze's window
# colour, which looks the same.
BG="#171717"
render() { # render IN.ansi OUT.png
	sed $'s/\x1b\\[49m/\x1b[48;2;23;23;23m/g' "$1" >"$work/render.ansi"
	"$FREEZE" --language ansi --window=false --background "$BG" --padding 20 --font.size 14 -o "$2" "$work/render.ansi" >/dev/null
	echo "screenshots: $2"
}
shot() { # shot NAME: capture the pane and render it
	tmux -L "$sock" capture-pane -e -p -t shots >"$work/$1.ansi"
	render "$work/$1.ansi" "$OUT/$1.png"
}

start
shot tensors
keys / q p r o j
shot search
keys Escape
keys C-u
keys t
shot tree
keys t Down Down Down Enter
PAUSE=1 keys ""
shot inspect
keys 3
shot metadata
keys 4
shot mapping
keys 5 Right Right Right Right
PAUSE=3 keys Enter
shot preview
# the demo to GGUF F16 (the convert shot is the fixer's GGUF form, below)
keys 6 Right Down Right Right
keys C-s
PAUSE=2 keys ""
shot jobs
keys 8
shot gpu
keys '?'
shot help
keys o
shot open

# the mapping fixer on the demo with mlp.down_proj renamed: the suggestion
# for the first unmapped tensor, as a rule over every block
cp -r testdata/tiny-renamed "$work/tiny-renamed"
start "$work/tiny-renamed"
keys 4 n
shot mapping-fix
# the suggestion accepted, then the Convert form for GGUF F16: the fixer's
# unsaved rule applies, and without a tokenizer no vocabulary is written
PAUSE=1.5 keys Enter
keys 6 Right Down Right Right
shot convert

# GGUF metadata editing: the demo exported to GGUF, general.name being set
"$work/mlmf" convert internal/demo/checkpoint "$work/demo.gguf" --to gguf >/dev/null 2>&1
start "$work/demo.gguf"
keys 3 Down Down e C-u
keys -l 'str:Demo (edited)'
keys Enter
shot metadata-edit

if [ -f "$OUT/gpu-h200.ansi" ]; then
	render "$OUT/gpu-h200.ansi" "$OUT/gpu-h200.png"
fi
