package cast

// The AVX2 kernels live in simd_amd64.s. They implement exactly the scalar
// kernels' arithmetic; TestSIMDMatchesScalar compares them on every input
// class, and the scalar loops stay the path on other CPUs and architectures.

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax uint32)

//go:noescape
func f32ToBF16AVX2(d *uint16, s *uint32, n int)

//go:noescape
func bf16ToF32AVX2(d *uint32, s *uint16, n int)

//go:noescape
func bf16ToF16F16C(d *uint16, s *uint16, n int)

//go:noescape
func f32ToF16F16C(d *uint16, s *uint32, n int)

//go:noescape
func f64ToBF16AVX2(d *uint16, s *uint64, n int) (done int)

// hasAVX2 reports whether the CPU and the OS support AVX2.
var hasAVX2 = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xgetbv0()&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

// hasF16C reports the half-precision conversion instructions (with AVX2,
// which the kernels also use).
var hasF16C = func() bool {
	_, _, ecx1, _ := cpuid(1, 0)
	return hasAVX2 && ecx1&(1<<29) != 0
}()

// useSIMD can be switched off by tests to exercise the scalar loops.
var useSIMD = hasAVX2

// f32ToBF16Vec converts the longest prefix it can with SIMD and returns
// how many elements it did.
func f32ToBF16Vec(d []uint16, s []uint32) int {
	n := len(s) &^ 15
	if !useSIMD || n == 0 || len(d) < n {
		return 0
	}
	f32ToBF16AVX2(&d[0], &s[0], n)
	return n
}

func bf16ToF32Vec(d []uint32, s []uint16) int {
	n := len(s) &^ 15
	if !useSIMD || n == 0 || len(d) < n {
		return 0
	}
	bf16ToF32AVX2(&d[0], &s[0], n)
	return n
}

// f64ToBF16Vec converts with SIMD up to the first group of eight that holds
// a value needing the slow path, and returns how many it did.
func f64ToBF16Vec(d []uint16, s []uint64) int {
	n := len(s) &^ 7
	if !useSIMD || n == 0 || len(d) < n {
		return 0
	}
	return f64ToBF16AVX2(&d[0], &s[0], n)
}

func bf16ToF16Vec(d []uint16, s []uint16) int {
	n := len(s) &^ 15
	if !useSIMD || !hasF16C || n == 0 || len(d) < n {
		return 0
	}
	bf16ToF16F16C(&d[0], &s[0], n)
	return n
}

func f32ToF16Vec(d []uint16, s []uint32) int {
	n := len(s) &^ 15
	if !useSIMD || !hasF16C || n == 0 || len(d) < n {
		return 0
	}
	f32ToF16F16C(&d[0], &s[0], n)
	return n
}
