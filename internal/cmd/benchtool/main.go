// Command benchtool is the Go half of `make bench` (scripts/bench.py runs it
// next to the Python and shell anchors and prints the ratios).
//
//	benchtool gen  -dir D -tensors N -bytes B   write a synthetic sharded BF16 checkpoint
//	benchtool list -runs R PATH                 open + list without reading data; best ms
//	benchtool read -runs R PATH                 read every tensor byte, checksummed; best GB/s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"mlmf/formats"
	"mlmf/formats/safetensors"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gen|list|read …")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "list":
		err = list(os.Args[2:])
	case "read":
		err = read(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// noise writes n pseudo-random bytes (xorshift), fast enough not to
// dominate generation.
type noise struct {
	n    int64
	seed uint64
}

func (z noise) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 1<<20)
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&buf[0])), len(buf)/8)
	x := z.seed | 1
	var done int64
	for done < z.n {
		for i := range words {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			words[i] = x & 0x3FFF3FFF3FFF3FFF // finite BF16 values
		}
		k := min(int64(len(buf)), z.n-done)
		m, err := w.Write(buf[:k])
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", ".bench/ckpt", "output directory")
	n := fs.Int("tensors", 2000, "tensor count")
	total := fs.Float64("bytes", 8.4e9, "total bytes")
	shard := fs.Float64("shard", 2e9, "max shard size")
	fs.Parse(args)
	per := int64(*total) / int64(*n)
	cols := int64(2048)
	rows := max(1, per/2/cols)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	ts := make([]formats.Tensor, *n)
	for i := range ts {
		ts[i] = formats.Tensor{
			Name:  fmt.Sprintf("model.layers.%d.t%d.weight", i/10, i%10),
			DType: formats.BF16,
			Shape: []int64{rows, cols},
			Data:  noise{n: rows * cols * 2, seed: uint64(i) * 0x9E3779B97F4A7C15},
		}
	}
	start := time.Now()
	files, err := safetensors.WriteSharded(context.Background(), *dir, ts, map[string]string{"format": "pt"}, int64(*shard))
	if err != nil {
		return err
	}
	fmt.Printf("gen files=%d tensors=%d bytes=%d seconds=%.1f\n", len(files), *n, rows*cols*2*int64(*n), time.Since(start).Seconds())
	return nil
}

func list(args []string) error {
	fs := flag.NewFlagSet("list", flag.ExitOnError)
	runs := fs.Int("runs", 20, "repetitions (the best is reported)")
	fs.Parse(args)
	best := math.Inf(1)
	var count int
	for range *runs {
		start := time.Now()
		r, err := formats.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		// Listing = every name with its dtype and shape, as safe_open users do.
		count = 0
		for _, t := range r.Tensors() {
			if t.Name != "" && t.DType.Valid() && len(t.Shape) > 0 {
				count++
			}
		}
		r.Close()
		best = min(best, time.Since(start).Seconds()*1e3)
	}
	fmt.Printf("list tensors=%d ms=%.3f\n", count, best)
	return nil
}

func read(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	runs := fs.Int("runs", 3, "repetitions (the best is reported)")
	fs.Parse(args)
	best := 0.0
	var sum uint64
	var total int64
	for range *runs {
		r, err := formats.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		start := time.Now()
		sum, total, err = readAll(r)
		r.Close()
		if err != nil {
			return err
		}
		best = max(best, float64(total)/time.Since(start).Seconds()/1e9)
	}
	fmt.Printf("read bytes=%d checksum=%016x GBps=%.3f\n", total, sum, best)
	return nil
}

// readAll reads every tensor through pread in 8 MiB chunks on all cores and
// folds the bytes into a checksum, so nothing can be skipped.
func readAll(r formats.Reader) (uint64, int64, error) {
	type job struct {
		sr  *io.SectionReader
		off int64
		n   int64
	}
	const chunk = 8 << 20
	jobs := make(chan job, 64)
	workers := runtime.GOMAXPROCS(0)
	sums := make([]uint64, workers)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunk)
			var s uint64
			for j := range jobs {
				b := buf[:j.n]
				if _, err := j.sr.ReadAt(b, j.off); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				s += checksum(b)
			}
			sums[w] = s
		}()
	}
	var total int64
	for _, t := range r.Tensors() {
		sr, err := r.TensorReader(t.Name)
		if err != nil {
			close(jobs)
			wg.Wait()
			return 0, 0, err
		}
		for off := int64(0); off < t.Size; off += chunk {
			jobs <- job{sr, off, min(chunk, t.Size-off)}
		}
		total += t.Size
	}
	close(jobs)
	wg.Wait()
	var s uint64
	for _, x := range sums {
		s += x
	}
	return s, total, firstErr
}

func checksum(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	n := len(b) / 32 * 32
	if n > 0 {
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n/8)
		for i := 0; i+4 <= len(w); i += 4 {
			s0 += w[i]
			s1 ^= w[i+1]
			s2 += w[i+2]
			s3 ^= w[i+3]
		}
	}
	for _, c := range b[n:] {
		s0 += uint64(c)
	}
	return s0 ^ (s1 << 1) ^ (s2 << 2) ^ (s3 << 3)
}
