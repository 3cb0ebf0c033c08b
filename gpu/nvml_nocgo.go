//go:build !cgo || !linux

package gpu

import "fmt"

// go-nvml loads libnvidia-ml through cgo's dlopen; a build without cgo
// (or off Linux) has no way to reach NVML and reports no GPU.
func openNVML() (nvmlAPI, error) {
	return nil, fmt.Errorf("gpu: this build of mlmf has no NVML support (built without cgo): %w", ErrNoGPU)
}
