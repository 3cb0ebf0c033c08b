package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"mlmf/formats"
)

func TestCacheLRU(t *testing.T) {
	t.Parallel()
	c := NewCache(100)
	c.Put("a", 1, 40)
	c.Put("b", 2, 40)
	if _, ok := c.Get("a"); !ok { // a is now most recent
		t.Fatal("a missing")
	}
	c.Put("c", 3, 40) // evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Error("b survived eviction")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	u := c.Usage()
	if u.Used != 80 || u.Entries != 2 || u.Evicted != 1 || u.Budget != 100 {
		t.Errorf("usage %+v", u)
	}
	if c.Put("huge", 0, 101) {
		t.Error("value over the budget was stored")
	}
	c.Put("a", 1, 10) // resize in place
	if u := c.Usage(); u.Used != 50 {
		t.Errorf("used %d after resizing a, want 50", u.Used)
	}
	c.Trim(0)
	if u := c.Usage(); u.Used != 0 || u.Entries != 0 {
		t.Errorf("after Trim(0): %+v", u)
	}
}

func TestCacheGetOrComputeOnce(t *testing.T) {
	t.Parallel()
	c := NewCache(1 << 20)
	var calls atomic.Int32
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.GetOrCompute("k", func() (any, int64, error) {
				calls.Add(1)
				<-gate
				return "v", 1, nil
			})
			if err != nil || v != "v" {
				t.Errorf("got %v %v", v, err)
			}
		}()
	}
	close(gate)
	wg.Wait()
	if n := calls.Load(); n < 1 || n > 8 {
		t.Fatalf("calls %d", n)
	}
	before := calls.Load()
	if _, err := c.GetOrCompute("k", func() (any, int64, error) { calls.Add(1); return "x", 1, nil }); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Error("cached key recomputed")
	}
	boom := errors.New("boom")
	if _, err := c.GetOrCompute("e", func() (any, int64, error) { return nil, 0, boom }); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
	if _, ok := c.Get("e"); ok {
		t.Error("error result was cached")
	}
}

func TestCacheStats(t *testing.T) {
	t.Parallel()
	info, b := f32Tensor("w", []float32{1, 2, 3})
	r := &memReader{infos: []formats.TensorInfo{info}, data: map[string][]byte{"w": b}}
	c := NewCache(1 << 20)
	s1, err := c.Stats(context.Background(), "p", r, info, StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := c.Stats(context.Background(), "p", r, info, StatsOptions{})
	if s1 != s2 {
		t.Error("second Stats call did not hit the cache")
	}
	if u := c.Usage(); u.Hits != 1 || u.Misses != 1 || u.Used == 0 {
		t.Errorf("usage %+v", u)
	}
	d, err := c.DecodedF32("p", r, info)
	if err != nil || len(d) != 3 || d[2] != 3 {
		t.Errorf("decoded %v %v", d, err)
	}
	small := NewCache(8)
	if _, err := small.DecodedF32("p", r, info); !errors.Is(err, formats.ErrUnsupported) {
		t.Errorf("decode over budget: %v", err)
	}
	if DefaultCacheBudget() < 64<<20 {
		t.Errorf("default budget %d below the floor", DefaultCacheBudget())
	}
}
