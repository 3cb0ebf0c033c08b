package tensors

import (
	"cmp"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/sahilm/fuzzy"

	"mlmf/formats"
)

// SortMode orders the table.
type SortMode int

const (
	// SortStorage is storage order without a query and best match first
	// with one.
	SortStorage SortMode = iota
	SortName
	SortSize
	SortDType
	numSorts
)

func (s SortMode) String() string {
	return [...]string{"file order", "name", "size", "dtype"}[s]
}

// index is the pane's read-only view of the tensor list, built once per
// checkpoint in a command: names and the permutations for every sort mode.
type index struct {
	names  []string
	infos  []formats.TensorInfo
	orders [numSorts][]int32 // all tensors, in each mode's order
	ranks  [numSorts][]int32 // position of each tensor in orders[mode]
	group  []int32
	groups []string
	ascii  []bool
	low    []string // lower-cased names (the same string when already lower case)
}

var layerRe = regexp.MustCompile(`^(.*?\.(?:layers|layer|h|blocks|block|blk|encoder\.layer|decoder\.layers)\.\d+)\.`)

func buildIndex(infos []formats.TensorInfo) *index {
	n := len(infos)
	ix := &index{names: make([]string, n), infos: infos, group: make([]int32, n), ascii: make([]bool, n), low: make([]string, n)}
	gid := map[string]int32{}
	for i, t := range infos {
		ix.names[i] = t.Name
		ix.ascii[i] = isASCII(t.Name)
		ix.low[i] = strings.ToLower(t.Name)
		g := "(globals)"
		if m := layerRe.FindStringSubmatch(t.Name); m != nil {
			g = m[1]
		}
		id, ok := gid[g]
		if !ok {
			id = int32(len(ix.groups))
			gid[g] = id
			ix.groups = append(ix.groups, g)
		}
		ix.group[i] = id
	}
	base := make([]int32, n)
	for i := range base {
		base[i] = int32(i)
	}
	ix.orders[SortStorage] = base
	cmpFns := [numSorts]func(a, b int32) int{
		SortName: func(a, b int32) int { return cmp.Compare(infos[a].Name, infos[b].Name) },
		SortSize: func(a, b int32) int {
			return cmp.Or(cmp.Compare(infos[b].Size, infos[a].Size), cmp.Compare(a, b))
		},
		SortDType: func(a, b int32) int {
			return cmp.Or(cmp.Compare(infos[a].DType.String(), infos[b].DType.String()), cmp.Compare(a, b))
		},
	}
	for mode := SortName; mode < numSorts; mode++ {
		o := slices.Clone(base)
		slices.SortFunc(o, cmpFns[mode])
		ix.orders[mode] = o
	}
	for mode := range numSorts {
		r := make([]int32, n)
		for pos, i := range ix.orders[mode] {
			r[i] = int32(pos)
		}
		ix.ranks[mode] = r
	}
	return ix
}

// result is one query's matches in display order. Results are immutable and
// shared between the model and the commands that narrow from them.
type result struct {
	seq   uint64
	query string
	sort  SortMode
	idx   []int32 // matching tensors in display order
}

// match runs the fuzzy matcher over the candidates (every tensor when base is
// nil, else the matches of a query this one extends: a fuzzy match of
// "abc" is a match of "ab", so narrowing is exact), split across the CPUs,
// and orders the matches for the sort mode: best score first (ties in
// storage order) or the mode's order.
func match(ix *index, query string, base []int32, mode SortMode) []int32 {
	total := len(ix.names)
	if base != nil {
		base = storageOrder(base, len(ix.names))
		total = len(base)
	}
	asciiQuery := isASCII(query)
	lp := []byte(strings.ToLower(query))
	workers := min(runtime.GOMAXPROCS(0), max(1, total/4096))
	parts := make([][]hit, workers)
	var wg sync.WaitGroup
	chunk := (total + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, total)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out []hit
			for k := lo; k < hi; k++ {
				i := int32(k)
				if base != nil {
					i = base[k]
				}
				name := ix.names[i]
				if asciiQuery && ix.ascii[i] {
					if sc, ok := scoreASCII(lp, ix.low[i], name); ok {
						out = append(out, hit{i, sc})
					}
				} else if ms := fuzzy.Find(query, []string{name}); len(ms) == 1 {
					out = append(out, hit{i, ms[0].Score})
				}
			}
			parts[w] = out
		}()
	}
	wg.Wait()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if mode != SortStorage {
		// walk the mode's order and keep the matches: linear, no sort
		in := make([]bool, len(ix.names))
		for _, p := range parts {
			for _, h := range p {
				in[h.i] = true
			}
		}
		out := make([]int32, 0, n)
		for _, i := range ix.orders[mode] {
			if in[i] {
				out = append(out, i)
			}
		}
		return out
	}
	hits := make([]hit, 0, n)
	for _, p := range parts {
		hits = append(hits, p...)
	}
	return byScore(hits)
}

// storageOrder returns the indexes sorted ascending: through a bitmap over
// all n tensors when there are many (linear), by sorting when few.
func storageOrder(idx []int32, n int) []int32 {
	if len(idx) < n/16 {
		out := slices.Clone(idx)
		slices.Sort(out)
		return out
	}
	in := make([]bool, n)
	for _, i := range idx {
		in[i] = true
	}
	out := make([]int32, 0, len(idx))
	for i, ok := range in {
		if ok {
			out = append(out, int32(i))
		}
	}
	return out
}

type hit struct {
	i     int32
	score int
}

// byScore orders hits (in storage order) best score first, stably: a
// counting sort when the scores span a small range, as they do.
func byScore(hits []hit) []int32 {
	out := make([]int32, len(hits))
	if len(hits) == 0 {
		return out
	}
	lo, hi := hits[0].score, hits[0].score
	for _, h := range hits {
		lo, hi = min(lo, h.score), max(hi, h.score)
	}
	if span := hi - lo + 1; span <= 1<<16 {
		count := make([]int, span+1)
		for _, h := range hits {
			count[hi-h.score+1]++
		}
		for k := 1; k <= span; k++ {
			count[k] += count[k-1]
		}
		for _, h := range hits {
			out[count[hi-h.score]] = h.i
			count[hi-h.score]++
		}
		return out
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return cmp.Compare(b.score, a.score) })
	for k, h := range hits {
		out[k] = h.i
	}
	return out
}

// matchedIndexes returns the byte indexes of name that query matches, for
// highlighting the rows on screen only.
func matchedIndexes(query, name string) []int {
	if query == "" {
		return nil
	}
	ms := fuzzy.Find(query, []string{name})
	if len(ms) == 0 {
		return nil
	}
	return ms[0].MatchedIndexes
}
