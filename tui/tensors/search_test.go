package tensors

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/sahilm/fuzzy"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
	"mlmf/tui/keymap"
	"mlmf/tui/styles"
)

// MoEInfos makes n tensor infos named like a mixture-of-experts checkpoint.
func MoEInfos(n int) []formats.TensorInfo {
	var out []formats.TensorInfo
	add := func(name string, shape ...int64) {
		if len(out) < n {
			out = append(out, formats.TensorInfo{Name: name, DType: formats.BF16, Shape: shape, Size: 2 * shape[0] * shape[len(shape)-1]})
		}
	}
	add("model.embed_tokens.weight", 151936, 2048)
	for l := 0; len(out) < n; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		for _, s := range []string{"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight", "mlp.gate.weight"} {
			add(p+s, 2048, 2048)
		}
		for e := 0; e < 128; e++ {
			for _, s := range []string{"gate_proj", "up_proj", "down_proj"} {
				add(fmt.Sprintf("%smlp.experts.%d.%s.weight", p, e, s), 768, 2048)
			}
		}
	}
	return out
}

func newPane(t testing.TB, infos []formats.TensorInfo) *Model {
	c := &common.Common{Styles: styles.Default(), Keys: keymap.Default(), Width: 120, Height: 40}
	m := New(c)
	m.SetSize(120, 37)
	cp := &common.Checkpoint{Path: "synthetic", Infos: infos, Summary: &engine.Summary{Format: "safetensors", TensorCount: len(infos)}}
	cmd := m.Update(common.OpenedMsg{Checkpoint: cp})
	if cmd := m.Update(cmd()); cmd != nil {
		t.Fatal("empty query should not need a command")
	}
	return m
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "<bs>":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func TestNarrowingMatchesFullSearch(t *testing.T) {
	t.Parallel()
	ix := buildIndex(MoEInfos(5000))
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "l1e2dopwgtuma.5"
	for range 12 {
		q := ""
		var prev []int32
		for k := 0; k < 6; k++ {
			q += string(alphabet[rng.IntN(len(alphabet))])
			for mode := range numSorts {
				full := match(ix, q, nil, mode)
				if prev != nil && mode == SortStorage {
					narrowed := match(ix, q, prev, mode)
					if !slices.Equal(full, narrowed) {
						t.Fatalf("query %q: narrowing from the previous matches gave %d results, a full search %d", q, len(narrowed), len(full))
					}
				}
			}
			prev = match(ix, q, nil, SortStorage)
		}
	}
}

func TestSortModes(t *testing.T) {
	t.Parallel()
	infos := []formats.TensorInfo{
		{Name: "b", DType: formats.F32, Size: 10},
		{Name: "a", DType: formats.BF16, Size: 30},
		{Name: "c", DType: formats.F16, Size: 20},
	}
	ix := buildIndex(infos)
	names := func(idx []int32) string {
		var s []string
		for _, i := range idx {
			s = append(s, infos[i].Name)
		}
		return strings.Join(s, "")
	}
	for mode, want := range map[SortMode]string{SortStorage: "bac", SortName: "abc", SortSize: "acb", SortDType: "acb"} {
		if got := names(ix.orders[mode]); got != want {
			t.Errorf("%v: %s, want %s", mode, got, want)
		}
	}
}

// A result that arrives after the query moved on is cached but not shown;
// erasing back to a known query shows it at once, without a command.
func TestStaleResultsDropped(t *testing.T) {
	t.Parallel()
	m := newPane(t, MoEInfos(3000))
	m.Update(press("/"))
	cmdA := m.Update(press("e"))
	cmdAB := m.Update(press("x"))
	if cmdA == nil || cmdAB == nil {
		t.Fatal("new queries should match in commands")
	}
	m.Update(cmdAB())
	if q, _ := m.Shown(); q != "ex" {
		t.Fatalf("shown %q, want ex", q)
	}
	m.Update(cmdA()) // stale
	if q, _ := m.Shown(); q != "ex" {
		t.Fatalf("a stale result replaced the current one: shown %q", q)
	}
	if cmd := m.Update(press("<bs>")); cmd != nil {
		t.Error("erasing back to a query already matched started a command")
	}
	if q, n := m.Shown(); q != "e" || n == 0 {
		t.Errorf("after backspace shown %q (%d)", q, n)
	}
	if !strings.Contains(m.View(), "\x1b[") {
		t.Error("matched characters are not highlighted")
	}
	// clearing shows everything again
	m.Update(press("<bs>"))
	if q, n := m.Shown(); q != "" || n != 3000 {
		t.Errorf("empty query shows %q (%d)", q, n)
	}
}

func TestTreeGroupsLayers(t *testing.T) {
	t.Parallel()
	m := newPane(t, MoEInfos(1000))
	m.Update(press("t"))
	v := m.View()
	if !strings.Contains(v, "▾ (globals)") || !strings.Contains(v, "model.layers.0  (391 tensors") {
		t.Fatalf("tree view:\n%s", v)
	}
	m.Update(press("j"))
	m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
	m.Update(press("j"))
	m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
	if v := m.View(); !strings.Contains(v, "▸ model.layers.0") || !strings.Contains(v, "model.layers.1  (391") {
		t.Fatalf("folding did not fold:\n%s", v)
	}
}

func TestScoreMatchesSahilm(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	alpha := "abcdeABCDE._-/ 0123xyzXYZ"
	names := []string{"", "a", "model.layers.0.self_attn.q_proj.weight", "TheBlackKnight", "The Black Knight", "aaa", "a\x00b"}
	for range 3000 {
		b := make([]byte, rng.IntN(30))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		names = append(names, string(b))
	}
	queries := []string{"tk", "aa", "a", "ab", "lqw", "Q", "x.y"}
	for range 300 {
		b := make([]byte, 1+rng.IntN(4))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		queries = append(queries, string(b))
	}
	for _, q := range queries {
		want := map[int]int{}
		for _, m := range fuzzy.FindNoSort(q, names) {
			want[m.Index] = m.Score
		}
		lp := []byte(strings.ToLower(q))
		for i, n := range names {
			sc, ok := scoreASCII(lp, strings.ToLower(n), n)
			ws, wok := want[i]
			if ok != wok || (ok && sc != ws) {
				t.Fatalf("query %q name %q: score %d,%v; sahilm/fuzzy %d,%v", q, n, sc, ok, ws, wok)
			}
		}
	}
}

func TestByScoreIsStable(t *testing.T) {
	t.Parallel()
	hits := []hit{{0, 5}, {1, 9}, {2, 5}, {3, -3}, {4, 9}}
	if got := byScore(hits); !slices.Equal(got, []int32{1, 4, 0, 2, 3}) {
		t.Errorf("byScore %v", got)
	}
	wide := []hit{{0, 1 << 20}, {1, -5}, {2, 1 << 20}}
	if got := byScore(wide); !slices.Equal(got, []int32{0, 2, 1}) {
		t.Errorf("byScore wide %v", got)
	}
}
