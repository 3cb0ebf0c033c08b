package gpu

import (
	"errors"
	"strings"
	"testing"
)

type fakeNVML struct {
	devs []Device
	err  error
}

func (f *fakeNVML) driver() string { return "550.1" }
func (f *fakeNVML) count() (int, error) {
	return len(f.devs), f.err
}
func (f *fakeNVML) device(i int) (Device, error) { return f.devs[i], nil }
func (f *fakeNVML) shutdown()                    {}

func TestSnapshotAndFormat(t *testing.T) {
	m := &Monitor{nv: &fakeNVML{devs: []Device{{Index: 0, Name: "NVIDIA H100", MemUsed: 3 << 30, MemTotal: 80 << 30, Util: 12, TempC: 40, PowerW: 70, PowerLimitW: 700}, {Index: 1, Name: "x", MemTotal: 1 << 30, Util: -1, TempC: -1, PowerW: -1}}}}
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got := Format(s)
	for _, want := range []string{"driver 550.1, 2 device(s)", "NVIDIA H100", "3.0 GiB / 80.0 GiB (4%)", "util 12%", "temp 40°C", "power 70 / 700 W", "util n/a  temp n/a  power n/a"} {
		if !strings.Contains(got, want) {
			t.Errorf("Format output lacks %q:\n%s", want, got)
		}
	}
	m.Close()
	if _, err := m.Snapshot(); err == nil {
		t.Error("Snapshot after Close succeeded")
	}
}

func TestNoDevices(t *testing.T) {
	m := &Monitor{nv: &fakeNVML{}}
	if _, err := m.Snapshot(); !errors.Is(err, ErrNoGPU) {
		t.Errorf("err %v, want ErrNoGPU", err)
	}
}

// On this machine (no NVIDIA driver) Open must fail cleanly with ErrNoGPU;
// where a GPU exists it must return a monitor whose snapshot has devices.
func TestOpenReal(t *testing.T) {
	m, err := Open()
	if err != nil {
		if !errors.Is(err, ErrNoGPU) {
			t.Fatalf("Open: %v, want ErrNoGPU when it fails", err)
		}
		t.Logf("no GPU: %v", err)
		return
	}
	defer m.Close()
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Devices) == 0 || s.Devices[0].MemTotal == 0 {
		t.Errorf("snapshot %+v", s)
	}
}
