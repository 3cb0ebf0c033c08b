package cast

import "unsafe"

// word is an element type the typed kernels work on.
type word interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

// view reinterprets b as a slice of T without copying. It reports false when
// b is not aligned for T: converting a misaligned pointer is not allowed by
// Go's unsafe rules (checkptr rejects it), and a tensor mapped from a file
// may start at any byte offset. The host must be little-endian (Convert
// checks).
func view[T word](b []byte) ([]T, bool) {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) == 0 {
		return nil, true
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%uintptr(size) != 0 {
		return nil, false
	}
	return unsafe.Slice((*T)(p), len(b)/size), true
}

// f32Bytes views a float32 slice as its bytes.
func f32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), len(f)*4)
}

// scratchWords is the size of the aligned bounce buffers used for misaligned
// input or output, in 8-byte words.
const scratchWords = 1024

// run applies the typed kernel k to src and dst, directly when both are
// aligned and through aligned bounce buffers when either is not.
func run[S, D word](dst, src []byte, kfn func(d []D, s []S)) {
	d, okd := view[D](dst)
	s, oks := view[S](src)
	if okd && oks {
		kfn(d, s)
		return
	}
	var zs S
	ss := int(unsafe.Sizeof(zs))
	n := len(src) / ss
	if n == 0 {
		return
	}
	// The kernel writes a fixed number of dst bytes per src word.
	out := len(dst) / n
	sbuf := make([]uint64, scratchWords)
	dbuf := make([]uint64, scratchWords)
	sb := unsafe.Slice((*byte)(unsafe.Pointer(&sbuf[0])), scratchWords*8)
	db := unsafe.Slice((*byte)(unsafe.Pointer(&dbuf[0])), scratchWords*8)
	per := scratchWords * 8 / max(ss, out)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		k := hi - lo
		copy(sb, src[lo*ss:hi*ss])
		sv, _ := view[S](sb[:k*ss])
		dv, _ := view[D](db[:k*out])
		kfn(dv, sv)
		copy(dst[lo*out:hi*out], db[:k*out])
	}
}

func u32Bytes(w []uint32) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*4)
}

func u16Bytes(w []uint16) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*2)
}
