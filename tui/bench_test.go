package tui

import (
	"fmt"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
)

// moeCheckpoint is a synthetic checkpoint of n tensors named like a
// mixture-of-experts model (128 experts per layer); no bytes behind it.
func moeCheckpoint(n int) *common.Checkpoint {
	var infos []formats.TensorInfo
	add := func(name string, rows, cols int64) {
		if len(infos) < n {
			infos = append(infos, formats.TensorInfo{Name: name, DType: formats.BF16, Shape: []int64{rows, cols}, Size: 2 * rows * cols})
		}
	}
	add("model.embed_tokens.weight", 151936, 2048)
	for l := 0; len(infos) < n; l++ {
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
	sum := &engine.Summary{Format: "safetensors", TensorCount: len(infos)}
	for _, t := range infos {
		sum.ParameterCount += t.NumElements()
		sum.TotalBytes += t.Size
	}
	return &common.Checkpoint{Path: "synthetic-moe", Infos: infos, Summary: sum}
}

// script is typed into the search field: a query built up, partly erased
// and extended again.
var script = []string{"l", "1", "7", "e", "x", "4", "2", "d", "o", "w", "n", "<bs>", "<bs>", "<bs>", "<bs>", "u", "p", "<bs>", "<bs>", "<bs>", "<bs>", "<bs>", "g", "a", "t", "e"}

// runSync runs a command and everything it leads to synchronously, the way
// the program would, feeding the messages back into the model.
func runSync(m *Model, cmd tea.Cmd) {
	for cmd != nil {
		msg := cmd()
		cmd = nil
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				runSync(m, c)
			}
		default:
			_, cmd = m.Update(msg)
		}
	}
}

// searchLatencies types the script and returns, per key, the time from the
// KeyPressMsg until View() shows that query's results.
func searchLatencies(tb testing.TB, cp *common.Checkpoint) []time.Duration {
	m := New(Options{Deps: common.Deps{Jobs: engine.NewJobs()}})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	_, cmd := m.Update(common.OpenedMsg{Checkpoint: cp})
	runSync(m, cmd)
	_, cmd = m.Update(parseKeys("/")[0])
	runSync(m, cmd)
	var lat []time.Duration
	query := ""
	for _, k := range script {
		if k == "<bs>" {
			query = query[:len(query)-1]
		} else {
			query += k
		}
		key := parseKeys(k)[0]
		start := time.Now()
		_, cmd := m.Update(key)
		runSync(m, cmd)
		_ = m.View()
		lat = append(lat, time.Since(start))
		if q, _ := m.tensors.Shown(); q != query {
			tb.Fatalf("after typing %q the screen shows %q", query, q)
		}
	}
	return lat
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cp := moeCheckpoint(n)
			var all []time.Duration
			for b.Loop() {
				all = append(all, searchLatencies(b, cp)...)
			}
			p50, p95, mx := percentile(all, .5), percentile(all, .95), slices.Max(all)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(mx.Microseconds())/1000, "max-ms")
			b.Logf("%d tensors: %d keys, p50 %v, p95 %v, max %v", n, len(all), p50, p95, mx)
		})
	}
}

// TestSearchLatencyBudget keeps an eye on the budget in ordinary test runs
// (10,000 tensors, with generous slack for loaded CI machines and -race).
func TestSearchLatencyBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	lat := searchLatencies(t, moeCheckpoint(10_000))
	p95 := percentile(lat, .95)
	t.Logf("10,000 tensors: p95 %v", p95)
	if p95 > 250*time.Millisecond {
		t.Errorf("p95 %v from key press to results on screen", p95)
	}
}
