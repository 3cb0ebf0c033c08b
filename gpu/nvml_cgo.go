//go:build cgo && linux

package gpu

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

type goNVML struct{}

func openNVML() (nvmlAPI, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, fmt.Errorf("gpu: libnvidia-ml.so.1 not found (no NVIDIA driver): %w", ErrNoGPU)
		}
		return nil, fmt.Errorf("gpu: NVML init: %s: %w", nvml.ErrorString(ret), ErrNoGPU)
	}
	return goNVML{}, nil
}

func (goNVML) driver() string {
	v, ret := nvml.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		return "unknown"
	}
	return v
}

func (goNVML) count() (int, error) {
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("gpu: device count: %s", nvml.ErrorString(ret))
	}
	return n, nil
}

func (goNVML) device(i int) (Device, error) {
	h, ret := nvml.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return Device{}, fmt.Errorf("handle: %s", nvml.ErrorString(ret))
	}
	d := Device{Index: i, Util: -1, MemUtil: -1, TempC: -1, PowerW: -1, PowerLimitW: -1}
	if name, ret := h.GetName(); ret == nvml.SUCCESS {
		d.Name = name
	}
	if uuid, ret := h.GetUUID(); ret == nvml.SUCCESS {
		d.UUID = uuid
	}
	mem, ret := h.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return Device{}, fmt.Errorf("memory info: %s", nvml.ErrorString(ret))
	}
	d.MemUsed, d.MemTotal = mem.Used, mem.Total
	if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
		d.Util, d.MemUtil = int(u.Gpu), int(u.Memory)
	}
	if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		d.TempC = int(t)
	}
	if p, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
		d.PowerW = float64(p) / 1000
	}
	if p, ret := h.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
		d.PowerLimitW = float64(p) / 1000
	}
	return d, nil
}

func (goNVML) shutdown() { nvml.Shutdown() }
