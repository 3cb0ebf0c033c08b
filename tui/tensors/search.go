package tensors

import (
	"cmp"
	"regexp"
	"runtime"
	"slices"
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
}

var layerRe = regexp.MustCompile(`^(.*?\.(?:layers|layer|h|blocks|block|blk|encoder\.layer|decoder\.layers)\.\d+)\.`)

func buildIndex(infos []formats.TensorInfo) *index {
	n := len(infos)
	ix := &index{names: make([]string, n), infos: infos, group: make([]int32, n)}
	gid := map[string]int32{}
	for i, t := range infos {
		ix.names[i] = t.Name
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

// subset adapts a candidate list to fuzzy.Source.
type subset struct {
	names []string
	idx   []int32 // nil: all names
}

func (s subset) String(i int) string {
	if s.idx == nil {
		return s.names[i]
	}
	return s.names[s.idx[i]]
}

func (s subset) Len() int {
	if s.idx == nil {
		return len(s.names)
	}
	return len(s.idx)
}

// match runs the fuzzy matcher over the candidates (every tensor when base is
// nil, else the matches of a query this one extends: a fuzzy match of
// "abc" is a match of "ab", so narrowing is exact), split across the CPUs,
// and orders the matches for the sort mode.
func match(ix *index, query string, base []int32, mode SortMode) []int32 {
	total := len(ix.names)
	if base != nil {
		total = len(base)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, total/4096))
	type hit struct {
		i     int32
		score int
	}
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
			var sub subset
			if base == nil {
				ids := make([]int32, hi-lo)
				for k := range ids {
					ids[k] = int32(lo + k)
				}
				sub = subset{ix.names, ids}
			} else {
				sub = subset{ix.names, base[lo:hi]}
			}
			ms := fuzzy.FindFromNoSort(query, sub)
			out := make([]hit, len(ms))
			for k, m := range ms {
				out[k] = hit{sub.idx[m.Index], m.Score}
			}
			parts[w] = out
		}()
	}
	wg.Wait()
	var hits []hit
	for _, p := range parts {
		hits = append(hits, p...)
	}
	if mode == SortStorage {
		slices.SortFunc(hits, func(a, b hit) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.i, b.i)) })
	} else {
		rank := ix.ranks[mode]
		slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(rank[a.i], rank[b.i]) })
	}
	out := make([]int32, len(hits))
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
