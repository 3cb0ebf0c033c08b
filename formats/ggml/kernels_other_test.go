//go:build !amd64

package ggml

// setAVX2: there is only one set of kernels here.
func setAVX2(on bool) (restore func()) { return func() {} }
