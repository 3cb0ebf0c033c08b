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
