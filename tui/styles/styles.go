// Package styles is the only place mlmf's TUI builds lipgloss styles: a small
// semantic palette and the styles every pane draws with.
package styles

import (
	"image/color"
	"math"
	"strings"

	"charm.land/lipgloss/v2"
)

// Palette names colours by role, not by hue.
type Palette struct {
	Accent, Accent2, Text, Muted, Subtle, Error, Warning, Success, Match color.Color
	// SelectionBg is the background of the selected row.
	SelectionBg color.Color
}

// DefaultPalette works on dark and light backgrounds (ANSI 256 values that
// stay legible when downsampled to 16 colours).
func DefaultPalette() Palette {
	return Palette{
		Accent:  lipgloss.Color("#7D56F4"),
		Accent2: lipgloss.Color("#00A4B8"),
		Text:    lipgloss.Color("#DDDDDD"),
		Muted:   lipgloss.Color("#8A8A8A"),
		Subtle:  lipgloss.Color("#444444"),
		Error:   lipgloss.Color("#FF5F5F"),
		Warning: lipgloss.Color("#FFAF00"),
		Success: lipgloss.Color("#5FD75F"),
		Match:   lipgloss.Color("#FFD75F"),

		SelectionBg: lipgloss.Color("#3F3470"),
	}
}

// Styles are the rendered roles. Panes use these and never build their own.
type Styles struct {
	Palette Palette

	Logo, Tab, TabActive, TabSep                 lipgloss.Style
	Status, StatusKey, StatusValue, StatusError  lipgloss.Style
	Title, Header, Row, Selected, Match          lipgloss.Style
	SelectedMatch, Muted, Label, Value, Group    lipgloss.Style
	Error, Warning, Success, Box, Focused, Input lipgloss.Style
	BarFull, BarEmpty, Spark, HelpKey, HelpDesc  lipgloss.Style
	HelpSep, Section, Unavailable                lipgloss.Style
}

// New builds the styles from a palette.
func New(p Palette) *Styles {
	n := lipgloss.NewStyle
	return &Styles{
		Palette:       p,
		Logo:          n().Bold(true).Foreground(p.Accent),
		Tab:           n().Foreground(p.Muted).Padding(0, 1),
		TabActive:     n().Bold(true).Foreground(p.Text).Background(p.Accent).Padding(0, 1),
		TabSep:        n().Foreground(p.Subtle),
		Status:        n().Foreground(p.Muted),
		StatusKey:     n().Foreground(p.Accent2),
		StatusValue:   n().Foreground(p.Text),
		StatusError:   n().Bold(true).Foreground(p.Error),
		Title:         n().Bold(true).Foreground(p.Accent),
		Header:        n().Bold(true).Foreground(p.Accent2),
		Row:           n(),
		Selected:      n().Bold(true).Foreground(p.Text).Background(p.SelectionBg),
		Match:         n().Bold(true).Foreground(p.Match),
		SelectedMatch: n().Bold(true).Foreground(p.Match).Background(p.SelectionBg),
		Muted:         n().Foreground(p.Muted),
		Label:         n().Foreground(p.Accent2),
		Value:         n().Foreground(p.Text),
		Group:         n().Bold(true).Foreground(p.Accent),
		Error:         n().Foreground(p.Error),
		Warning:       n().Foreground(p.Warning),
		Success:       n().Foreground(p.Success),
		Box:           n().Border(lipgloss.RoundedBorder()).BorderForeground(p.Subtle).Padding(0, 1),
		Focused:       n().Border(lipgloss.RoundedBorder()).BorderForeground(p.Accent).Padding(0, 1),
		Input:         n().Foreground(p.Text),
		BarFull:       n().Foreground(p.Accent),
		BarEmpty:      n().Foreground(p.Subtle),
		Spark:         n().Foreground(p.Accent2),
		HelpKey:       n().Foreground(p.Accent2),
		HelpDesc:      n().Foreground(p.Muted),
		HelpSep:       n().Foreground(p.Subtle),
		Section:       n().Bold(true).Underline(true).Foreground(p.Text),
		Unavailable:   n().Italic(true).Foreground(p.Warning),
	}
}

// Default is New(DefaultPalette()).
func Default() *Styles { return New(DefaultPalette()) }

// Bar renders a progress bar of width cells filled to frac (0..1).
func (s *Styles) Bar(width int, frac float64) string {
	if width <= 0 {
		return ""
	}
	frac = math.Max(0, math.Min(1, frac))
	full := int(math.Round(frac * float64(width)))
	return s.BarFull.Render(strings.Repeat("█", full)) + s.BarEmpty.Render(strings.Repeat("░", width-full))
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Sparkline renders values (each 0..1) as one row of block characters, the
// most recent on the right, padded on the left to width.
func (s *Styles) Sparkline(width int, values []float64) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		i := int(math.Round(math.Max(0, math.Min(1, v)) * float64(len(sparkRunes)-1)))
		b.WriteRune(sparkRunes[i])
	}
	return s.Spark.Render(b.String())
}

// Chart renders a history of values (each 0..1, full scale) as a bar chart
// height rows tall and width columns wide, one sample per column, the newest
// on the right; columns without a sample yet show a dim baseline.
func (s *Styles) Chart(width, height int, values []float64) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	missing := width - len(values)
	rows := make([]string, height)
	for r := range height {
		var b strings.Builder
		for _, v := range values {
			eighths := int(math.Round(math.Max(0, math.Min(1, v)) * float64(height*8)))
			level := eighths - (height-1-r)*8
			switch {
			case level >= 8:
				b.WriteString("█")
			case level > 0:
				b.WriteRune(sparkRunes[level-1])
			case r == height-1:
				b.WriteString("▁")
			default:
				b.WriteString(" ")
			}
		}
		pad := strings.Repeat(" ", missing)
		if r == height-1 {
			pad = s.BarEmpty.Render(strings.Repeat("·", missing))
		}
		rows[r] = pad + s.Spark.Render(b.String())
	}
	return strings.Join(rows, "\n")
}

// Columns renders counts as a vertical bar chart height rows tall, each
// count colWidth cells wide, scaled to the largest count.
func (s *Styles) Columns(counts []int64, height, colWidth int) string {
	if height <= 0 || len(counts) == 0 {
		return ""
	}
	var peak int64
	for _, c := range counts {
		peak = max(peak, c)
	}
	rows := make([]string, height)
	for r := range height {
		var b strings.Builder
		for _, c := range counts {
			eighths := 0
			if peak > 0 {
				eighths = int(math.Round(float64(c) / float64(peak) * float64(height*8)))
				if c > 0 && eighths == 0 {
					eighths = 1
				}
			}
			level := eighths - (height-1-r)*8 // eighths above this row's floor
			ch := " "
			switch {
			case level >= 8:
				ch = "█"
			case level > 0:
				ch = string(sparkRunes[level-1])
			}
			b.WriteString(strings.Repeat(ch, colWidth))
		}
		rows[r] = s.Spark.Render(b.String())
	}
	return strings.Join(rows, "\n")
}

// Highlight renders str with the runes at the given byte indexes in the match
// style and the rest in base (used for fuzzy matches).
func (s *Styles) Highlight(str string, idx []int, selected bool) string {
	base, match := s.Row, s.Match
	if selected {
		base, match = s.Selected, s.SelectedMatch
	}
	if len(idx) == 0 {
		return base.Render(str)
	}
	var b strings.Builder
	set := make(map[int]bool, len(idx))
	for _, i := range idx {
		set[i] = true
	}
	start := 0
	inMatch := set[0]
	flush := func(end int) {
		if end > start {
			if inMatch {
				b.WriteString(match.Render(str[start:end]))
			} else {
				b.WriteString(base.Render(str[start:end]))
			}
		}
		start = end
	}
	for i := range str {
		if set[i] != inMatch {
			flush(i)
			inMatch = set[i]
		}
	}
	flush(len(str))
	return b.String()
}
