package engine

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"mlmf/formats"
)

// Cache is an LRU cache of decoded tensors and statistics bounded by a byte
// budget: adding past the budget evicts the least recently used entries. It
// is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	budget   int64
	used     int64
	ll       *list.List
	items    map[string]*list.Element
	hits     int64
	misses   int64
	evicted  int64
	inflight map[string]*call
}

type cacheEntry struct {
	key  string
	val  any
	size int64
}

type call struct {
	done chan struct{}
	val  any
	err  error
}

// CacheUsage reports what a cache holds.
type CacheUsage struct {
	Used, Budget          int64
	Entries               int
	Hits, Misses, Evicted int64
}

// NewCache returns a cache holding at most budget bytes (DefaultCacheBudget
// when budget <= 0).
func NewCache(budget int64) *Cache {
	if budget <= 0 {
		budget = DefaultCacheBudget()
	}
	return &Cache{budget: budget, ll: list.New(), items: map[string]*list.Element{}, inflight: map[string]*call{}}
}

// DefaultCacheBudget is an eighth of the machine's memory (from
// /proc/meminfo), between 64 MiB and 8 GiB; 512 MiB where it cannot tell.
func DefaultCacheBudget() int64 {
	total, _, ok := memInfo()
	if !ok {
		return 512 << 20
	}
	return min(max(total/8, 64<<20), 8<<30)
}

// memInfo reads MemTotal and MemAvailable in bytes.
func memInfo() (total, avail int64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "MemTotal:":
			total = v << 10
		case "MemAvailable:":
			avail = v << 10
		}
	}
	return total, avail, total > 0
}

// Get returns the cached value for key and marks it recently used.
func (c *Cache) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.hits++
		return el.Value.(*cacheEntry).val, true
	}
	c.misses++
	return nil, false
}

// Put stores val, accounted as size bytes. A value larger than the whole
// budget is not stored; Put reports whether it was.
func (c *Cache) Put(key string, val any, size int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putLocked(key, val, size)
}

func (c *Cache) putLocked(key string, val any, size int64) bool {
	if size > c.budget {
		return false
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		c.used += size - e.size
		e.val, e.size = val, size
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&cacheEntry{key: key, val: val, size: size})
		c.used += size
	}
	c.evictLocked(c.budget)
	return true
}

func (c *Cache) evictLocked(limit int64) {
	for c.used > limit {
		el := c.ll.Back()
		if el == nil {
			return
		}
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.used -= e.size
		c.evicted++
	}
}

// GetOrCompute returns the cached value for key, or runs fn once (concurrent
// callers for the same key wait for the same call) and caches its result.
// Errors are not cached.
func (c *Cache) GetOrCompute(key string, fn func() (val any, size int64, err error)) (any, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.hits++
		c.mu.Unlock()
		return el.Value.(*cacheEntry).val, nil
	}
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-cl.done
		return cl.val, cl.err
	}
	c.misses++
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	val, size, err := fn()
	c.mu.Lock()
	delete(c.inflight, key)
	if err == nil {
		c.putLocked(key, val, size)
	}
	c.mu.Unlock()
	cl.val, cl.err = val, err
	close(cl.done)
	if err == nil && size > 0 {
		c.RelievePressure() // the machine may need the memory more than we do
	}
	return val, err
}

// Trim evicts down to limit bytes (to give memory back under pressure).
func (c *Cache) Trim(limit int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked(max(limit, 0))
}

// RelievePressure halves the cache when the machine's available memory has
// fallen under a tenth of its total; it reports whether it trimmed.
func (c *Cache) RelievePressure() bool {
	total, avail, ok := memInfo()
	if !ok || avail >= total/10 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == 0 {
		return false
	}
	c.evictLocked(c.used / 2)
	return true
}

// Usage reports the cache's use.
func (c *Cache) Usage() CacheUsage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheUsage{Used: c.used, Budget: c.budget, Entries: c.ll.Len(), Hits: c.hits, Misses: c.misses, Evicted: c.evicted}
}

// Stats returns the statistics of tensor t of the checkpoint at path,
// computing them with ComputeStats on a miss. key distinguishes checkpoints
// (use the path).
func (c *Cache) Stats(ctx context.Context, path string, r formats.Reader, t formats.TensorInfo, opt StatsOptions) (*Stats, error) {
	key := "stats\x00" + path + "\x00" + t.Name + "\x00" + strconv.Itoa(opt.Bins)
	v, err := c.GetOrCompute(key, func() (any, int64, error) {
		s, err := ComputeStats(ctx, r, t, opt)
		if err != nil {
			return nil, 0, err
		}
		return s, int64(128 + 8*len(s.Hist.Bins)), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Stats), nil
}

// DecodedF32 returns the tensor decoded to float32, cached by path and name.
func (c *Cache) DecodedF32(path string, r formats.Reader, t formats.TensorInfo) ([]float32, error) {
	if 4*t.NumElements() > c.budget {
		return nil, fmt.Errorf("decode: tensor %q: %d elements do not fit the cache budget of %d bytes: %w", t.Name, t.NumElements(), c.budget, formats.ErrUnsupported)
	}
	key := "f32\x00" + path + "\x00" + t.Name
	v, err := c.GetOrCompute(key, func() (any, int64, error) {
		d, err := DecodeF32(r, t)
		if err != nil {
			return nil, 0, err
		}
		return d, int64(4 * len(d)), nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]float32), nil
}
