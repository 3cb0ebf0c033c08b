// Package tensors is the tensor table: fuzzy search as you type, sorting, a
// layer tree and totals.
package tensors

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"mlmf/tui/common"
)

// Messages of this pane.
type (
	indexMsg struct {
		cp *common.Checkpoint
		ix *index
	}
	resultMsg struct{ r *result }
)

// row is one line of the table: a tensor, or a group header in tree mode.
type row struct {
	tensor int32 // -1 for a group header
	group  int32
}

const cacheSize = 256

type groupTotal struct {
	n     int
	bytes int64
}

// Model is the Tensors pane.
type Model struct {
	c      *common.Common
	w, h   int
	cp     *common.Checkpoint
	canon  []string // canonical names by tensor index; nil when unmapped
	ix     *index
	input  common.Input
	seq    uint64
	cache  map[string]*result
	order  []string // cache insertion order, for eviction
	cur    *result
	sort   SortMode
	tree   bool
	folded map[int32]bool
	rows   []row
	totals map[int32]groupTotal
	cursor int
	offset int
	selSeq int
}

// New returns an empty pane.
func New(c *common.Common) *Model {
	return &Model{c: c, input: common.Input{Prompt: "/ "}, cache: map[string]*result{}, folded: map[int32]bool{}}
}

func (m *Model) Init() tea.Cmd { return nil }

// SetSize sets the pane's area.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h; m.clamp() }

// Capturing reports whether the search field has focus.
func (m *Model) Capturing() bool { return m.input.Focused }

// Canonical returns the canonical name shown for tensor i ("" when none).
func (m *Model) Canonical(i int) string {
	if i < 0 || i >= len(m.canon) {
		return ""
	}
	return m.canon[i]
}

// Query returns the current search text.
func (m *Model) Query() string { return m.input.Value }

// Shown returns the query whose results are on screen and how many there are.
func (m *Model) Shown() (string, int) {
	if m.cur == nil {
		return "", 0
	}
	return m.cur.query, len(m.cur.idx)
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.OpenedMsg:
		cp := msg.Checkpoint
		m.cp, m.ix, m.cur, m.rows = cp, nil, nil, nil
		m.canon = cp.Canonical
		return func() tea.Msg { return indexMsg{cp: cp, ix: buildIndex(cp.Infos)} }
	case common.MappingMsg:
		if msg.Checkpoint == m.cp {
			m.canon = msg.Canonical
		}
		return nil
	case indexMsg:
		if msg.cp != m.cp {
			return nil // an older checkpoint's index
		}
		m.ix = msg.ix
		m.cache = map[string]*result{}
		m.order = nil
		m.folded = map[int32]bool{}
		m.cursor, m.offset = 0, 0
		return m.requery()
	case resultMsg:
		r := msg.r
		if m.ix == nil || r.sort != m.sort {
			return nil
		}
		m.remember(r)
		if r.seq != m.seq {
			return nil // stale: the query changed since this one started
		}
		m.show(r)
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.move(-3)
		case tea.MouseWheelDown:
			m.move(3)
		}
		return m.selectCmd()
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	if m.input.Focused {
		switch {
		case key.Matches(msg, km.Input.Cancel), key.Matches(msg, km.Input.Accept):
			m.input.Focused = false
			return nil
		case key.Matches(msg, km.List.Up) && msg.Text == "", key.Matches(msg, km.List.Down) && msg.Text == "":
			// arrows move through results while typing; j/k type
		default:
			if changed, consumed := m.input.Update(km, msg); consumed {
				if changed {
					return m.requery()
				}
				return nil
			}
		}
	}
	switch {
	case key.Matches(msg, km.Tensors.Search):
		m.input.Focused = true
	case key.Matches(msg, km.Tensors.ClearSearch):
		m.input.Value = ""
		return m.requery()
	case key.Matches(msg, km.Tensors.Sort):
		m.sort = (m.sort + 1) % numSorts
		m.cache = map[string]*result{}
		m.order = nil
		return m.requery()
	case key.Matches(msg, km.Tensors.Tree):
		m.tree = !m.tree
		m.rebuild()
	case key.Matches(msg, km.Tensors.Toggle):
		if r, ok := m.rowAt(m.cursor); ok && m.tree {
			m.folded[r.group] = !m.folded[r.group]
			m.rebuild()
		}
	case key.Matches(msg, km.Tensors.Inspect):
		if r, ok := m.rowAt(m.cursor); ok {
			if r.tensor < 0 {
				m.folded[r.group] = !m.folded[r.group]
				m.rebuild()
				return nil
			}
			m.selSeq++
			i, seq := int(r.tensor), m.selSeq
			return func() tea.Msg { return common.InspectMsg{Index: i, Seq: seq} }
		}
	case key.Matches(msg, km.List.Up):
		m.move(-1)
	case key.Matches(msg, km.List.Down):
		m.move(1)
	case key.Matches(msg, km.List.PageUp):
		m.move(-m.page())
	case key.Matches(msg, km.List.PageDown):
		m.move(m.page())
	case key.Matches(msg, km.List.Top):
		m.move(-len(m.rows))
	case key.Matches(msg, km.List.Bottom):
		m.move(len(m.rows))
	default:
		return nil
	}
	return m.selectCmd()
}

func (m *Model) selectCmd() tea.Cmd {
	r, ok := m.rowAt(m.cursor)
	if !ok || r.tensor < 0 {
		return nil
	}
	m.selSeq++
	i, seq := int(r.tensor), m.selSeq
	return func() tea.Msg { return common.SelectMsg{Index: i, Seq: seq} }
}

// requery shows the current query's results: at once when they are known
// (an empty query, or a query seen before, such as after a backspace),
// otherwise from a command that narrows the longest known prefix's matches.
func (m *Model) requery() tea.Cmd {
	if m.ix == nil {
		return nil
	}
	m.seq++
	q := m.input.Value
	if q == "" {
		m.show(&result{seq: m.seq, sort: m.sort, idx: m.ix.orders[m.sort]})
		return nil
	}
	if r, ok := m.cache[q]; ok {
		m.show(r)
		return nil
	}
	var base []int32
	for i := len(q) - 1; i > 0; i-- {
		if r, ok := m.cache[q[:i]]; ok {
			base = r.idx
			break
		}
	}
	ix, seq, mode := m.ix, m.seq, m.sort
	return func() tea.Msg {
		return resultMsg{r: &result{seq: seq, query: q, sort: mode, idx: match(ix, q, base, mode)}}
	}
}

func (m *Model) remember(r *result) {
	if _, ok := m.cache[r.query]; ok {
		return
	}
	m.cache[r.query] = r
	m.order = append(m.order, r.query)
	if len(m.order) > cacheSize {
		delete(m.cache, m.order[0])
		m.order = m.order[1:]
	}
}

func (m *Model) show(r *result) {
	m.cur = r
	m.rebuild()
}

// rebuild lays out the rows from the current result.
func (m *Model) rebuild() {
	m.rows = m.rows[:0]
	if m.cur == nil {
		return
	}
	if !m.tree {
		if cap(m.rows) < len(m.cur.idx) {
			m.rows = make([]row, 0, len(m.cur.idx))
		}
		for _, i := range m.cur.idx {
			m.rows = append(m.rows, row{tensor: i, group: m.ix.group[i]})
		}
		m.clamp()
		return
	}
	var groups []int32
	members := map[int32][]int32{}
	m.totals = map[int32]groupTotal{}
	for _, i := range m.cur.idx {
		g := m.ix.group[i]
		if _, ok := members[g]; !ok {
			groups = append(groups, g)
		}
		members[g] = append(members[g], i)
		t := m.totals[g]
		t.n++
		t.bytes += m.ix.infos[i].Size
		m.totals[g] = t
	}
	for _, g := range groups {
		m.rows = append(m.rows, row{tensor: -1, group: g})
		if m.folded[g] {
			continue
		}
		for _, i := range members[g] {
			m.rows = append(m.rows, row{tensor: i, group: g})
		}
	}
	m.clamp()
}

func (m *Model) rowAt(i int) (row, bool) {
	if i < 0 || i >= len(m.rows) {
		return row{}, false
	}
	return m.rows[i], true
}

func (m *Model) page() int { return max(1, m.h-2) }

func (m *Model) move(d int) {
	m.cursor += d
	m.clamp()
}

func (m *Model) clamp() {
	m.cursor = max(0, min(m.cursor, len(m.rows)-1))
	vis := m.page()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+vis {
		m.offset = m.cursor - vis + 1
	}
	m.offset = max(0, min(m.offset, len(m.rows)-vis))
}

// columns returns the widths of name, canonical (0: hidden), dtype, shape, size.
func (m *Model) columns() (name, canon, dtype, shape, size int) {
	dtype, size = 8, 10
	shape = 16
	if m.w >= 120 {
		shape = 22
	}
	rest := m.w - dtype - shape - size - 4
	if m.w >= 120 || m.w >= 100 && m.canon != nil {
		canon = rest * 2 / 5
		rest -= canon + 1
	}
	return max(rest, 8), canon, dtype, shape, size
}

func (m *Model) View() string {
	s := m.c.Styles
	var b strings.Builder
	switch {
	case m.input.Focused || m.input.Value != "":
		b.WriteString(m.input.View(s, m.w))
		if m.cur != nil && m.cur.query != m.input.Value {
			b.WriteString(s.Muted.Render("  matching…"))
		}
	default:
		b.WriteString(s.Muted.Render("press / to search"))
	}
	b.WriteString(s.Muted.Render(fmt.Sprintf("  sort: %s", m.sort)))
	if m.tree {
		b.WriteString(s.Muted.Render("  tree"))
	}
	b.WriteString("\n")
	if m.ix == nil {
		if m.cp == nil {
			b.WriteString(s.Muted.Render("No checkpoint open. Press o to open one."))
		} else {
			b.WriteString(s.Muted.Render("Indexing tensors…"))
		}
		return common.Fit(b.String(), m.h)
	}
	nw, cw, dw, sw, zw := m.columns()
	hdr := common.Pad("NAME", nw) + " "
	if cw > 0 {
		hdr += common.Pad("CANONICAL", cw) + " "
	}
	hdr += common.Pad("DTYPE", dw) + " " + common.Pad("SHAPE", sw) + " " + common.PadLeft("SIZE", zw)
	b.WriteString(s.Header.Render(hdr))
	if len(m.rows) == 0 {
		b.WriteString("\n" + s.Muted.Render("No tensor matches "+fmt.Sprintf("%q", m.input.Value)+"."))
	}
	q := ""
	if m.cur != nil {
		q = m.cur.query
	}
	end := min(len(m.rows), m.offset+m.page())
	for ri := m.offset; ri < end; ri++ {
		r := m.rows[ri]
		sel := ri == m.cursor
		b.WriteString("\n")
		if r.tensor < 0 {
			b.WriteString(m.groupLine(r.group, sel))
			continue
		}
		t := m.ix.infos[r.tensor]
		name := t.Name
		offset := 0
		prefix := ""
		if m.tree {
			prefix = "  "
			if g := m.ix.groups[r.group]; strings.HasPrefix(name, g+".") {
				offset = len(g) + 1
			}
		}
		shown := common.Truncate(prefix+name[offset:], nw)
		var hl []int
		for _, i := range matchedIndexes(q, name) {
			if j := i - offset + len(prefix); j >= len(prefix) && j < len(shown) && i >= offset {
				hl = append(hl, j)
			}
		}
		line := s.Highlight(shown, hl, sel)
		if pad := nw - len([]rune(shown)); pad > 0 {
			line += m.cell(strings.Repeat(" ", pad), sel)
		}
		rest := " "
		if cw > 0 {
			canon := ""
			if m.canon != nil {
				canon = m.canon[r.tensor]
			}
			rest += common.Pad(canon, cw) + " "
		}
		rest += common.Pad(t.DType.String(), dw) + " " + common.Pad(common.Shape(t.Shape), sw) + " " + common.PadLeft(common.Bytes(t.Size), zw)
		b.WriteString(line + m.cell(rest, sel))
	}
	return common.Fit(b.String(), m.h)
}

func (m *Model) cell(s string, sel bool) string {
	if sel {
		return m.c.Styles.Selected.Render(s)
	}
	return m.c.Styles.Row.Render(s)
}

func (m *Model) groupLine(g int32, sel bool) string {
	n, bytes := m.totals[g].n, m.totals[g].bytes
	mark := "▾ "
	if m.folded[g] {
		mark = "▸ "
	}
	text := common.Pad(mark+m.ix.groups[g]+fmt.Sprintf("  (%d tensors, %s)", n, common.Bytes(bytes)), m.w)
	if sel {
		return m.c.Styles.Selected.Render(text)
	}
	return m.c.Styles.Group.Render(text)
}

// Status adds the totals to the status bar.
func (m *Model) Status() string {
	if m.cp == nil || m.cp.Summary == nil {
		return ""
	}
	sum := m.cp.Summary
	tot := fmt.Sprintf("%d tensors · %s params · %s", sum.TensorCount, common.Count(sum.ParameterCount), common.Bytes(sum.TotalBytes))
	if m.cur != nil && m.cur.query != "" {
		var bytes int64
		for _, i := range m.cur.idx {
			bytes += m.ix.infos[i].Size
		}
		tot = fmt.Sprintf("%d of %d tensors match · %s", len(m.cur.idx), sum.TensorCount, common.Bytes(bytes))
	}
	return tot
}

func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	if m.input.Focused {
		return []key.Binding{km.Input.Accept, km.Input.Cancel, km.Input.Clear}
	}
	return []key.Binding{km.Tensors.Search, km.Tensors.Inspect, km.Tensors.Sort, km.Tensors.Tree}
}

func (m *Model) FullHelp() [][]key.Binding {
	km := m.c.Keys
	return [][]key.Binding{
		{km.Tensors.Search, km.Tensors.ClearSearch, km.Tensors.Sort, km.Tensors.Tree, km.Tensors.Toggle, km.Tensors.Inspect},
		{km.List.Up, km.List.Down, km.List.PageUp, km.List.PageDown, km.List.Top, km.List.Bottom},
	}
}
