// Package gpu holds mlmf's GPU support. This file is the live device monitor:
// NVML through github.com/NVIDIA/go-nvml, which loads libnvidia-ml at run
// time, so every build has it and a machine without an NVIDIA driver gets
// ErrNoGPU instead of a crash.
package gpu

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoGPU: no NVIDIA GPU (or no NVML library) on this machine.
var ErrNoGPU = errors.New("no GPU found")

// Device is one GPU's state at a moment. Fields NVML cannot report for a
// device are left at -1 (utilisation, temperature, power).
type Device struct {
	Index       int
	Name        string
	UUID        string
	MemUsed     uint64  // bytes
	MemTotal    uint64  // bytes
	Util        int     // percent
	MemUtil     int     // percent
	TempC       int     // degrees Celsius
	PowerW      float64 // watts
	PowerLimitW float64 // watts
}

// Snapshot is every device at one moment.
type Snapshot struct {
	At      time.Time
	Driver  string
	Devices []Device
}

// Source is what the TUI and the CLI read: one snapshot at a time.
type Source interface {
	Snapshot() (Snapshot, error)
	Close() error
}

// Monitor reads devices through NVML. Open it once; Snapshot is cheap
// (a few NVML calls per device) and safe for concurrent use.
type Monitor struct {
	mu     sync.Mutex
	closed bool
	nv     nvmlAPI
}

// nvmlAPI is the slice of NVML the monitor uses; nvml_cgo.go implements it
// with go-nvml, nvml_nocgo.go reports ErrNoGPU.
type nvmlAPI interface {
	driver() string
	count() (int, error)
	device(i int) (Device, error)
	shutdown()
}

// Open initialises NVML. Without a driver it returns an error wrapping
// ErrNoGPU that says why.
func Open() (*Monitor, error) {
	nv, err := openNVML()
	if err != nil {
		return nil, err
	}
	return &Monitor{nv: nv}, nil
}

// Snapshot reads every device.
func (m *Monitor) Snapshot() (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Snapshot{}, fmt.Errorf("gpu: monitor closed")
	}
	s := Snapshot{At: time.Now(), Driver: m.nv.driver()}
	n, err := m.nv.count()
	if err != nil {
		return s, err
	}
	if n == 0 {
		return s, fmt.Errorf("gpu: NVML reports no devices: %w", ErrNoGPU)
	}
	for i := range n {
		d, err := m.nv.device(i)
		if err != nil {
			return s, fmt.Errorf("gpu: device %d: %w", i, err)
		}
		s.Devices = append(s.Devices, d)
	}
	return s, nil
}

// Close shuts NVML down.
func (m *Monitor) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.nv.shutdown()
	}
	return nil
}

// Format renders a snapshot as plain text, one line per device (the
// `mlmf gpu status` output).
func Format(s Snapshot) string {
	out := fmt.Sprintf("driver %s, %d device(s)\n", s.Driver, len(s.Devices))
	for _, d := range s.Devices {
		out += fmt.Sprintf("%d  %-28s  mem %s / %s (%.0f%%)  util %s  temp %s  power %s\n",
			d.Index, d.Name, GiB(d.MemUsed), GiB(d.MemTotal), pct(d.MemUsed, d.MemTotal),
			orNA(d.Util, "%d%%"), orNA(d.TempC, "%d°C"), watts(d.PowerW, d.PowerLimitW))
	}
	return out
}

// GiB formats a byte count in GiB with one decimal.
func GiB(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func orNA(v int, f string) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf(f, v)
}

func watts(w, limit float64) string {
	if w < 0 {
		return "n/a"
	}
	if limit > 0 {
		return fmt.Sprintf("%.0f / %.0f W", w, limit)
	}
	return fmt.Sprintf("%.0f W", w)
}
