package styles

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestWidths(t *testing.T) {
	t.Parallel()
	s := Default()
	for _, frac := range []float64{-1, 0, 0.33, 1, 2} {
		if w := ansi.StringWidth(s.Bar(20, frac)); w != 20 {
			t.Errorf("Bar(20, %v) is %d wide", frac, w)
		}
	}
	chart := s.Chart(10, 3, []float64{0, 0.5, 1})
	lines := strings.Split(ansi.Strip(chart), "\n")
	if len(lines) != 3 {
		t.Fatalf("chart has %d rows", len(lines))
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != 10 {
			t.Errorf("chart row %q is %d wide", l, w)
		}
	}
	if lines[0] != "         █" || !strings.HasSuffix(lines[2], "▁██") {
		t.Errorf("chart:\n%s", strings.Join(lines, "\n"))
	}
	cols := ansi.Strip(s.Columns([]int64{0, 4, 8}, 2, 2))
	if cols != "    ██\n  ████" {
		t.Errorf("columns:\n%q", cols)
	}
	h := s.Highlight("abcdef", []int{1, 2, 5}, false)
	if ansi.Strip(h) != "abcdef" || strings.Count(h, "\x1b[") < 3 {
		t.Errorf("highlight %q", h)
	}
}
