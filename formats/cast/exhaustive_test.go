package cast

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"mlmf/formats"
)

// TestExhaustiveF32 converts every float32 bit pattern to F16, BF16,
// F8_E4M3 and F8_E5M2 and compares CRC-32s of the results with numpy's and
// ml_dtypes', computed by `gen_cast_vectors.py FILE --f32-digests` and
// named by $MLMF_CAST_F32_DIGESTS (tests/interop/test_cast.py runs it with
// MLMF_CAST_EXHAUSTIVE=1). Skipped otherwise: it takes a while.
func TestExhaustiveF32(t *testing.T) {
	path := os.Getenv("MLMF_CAST_F32_DIGESTS")
	if path == "" {
		t.Skip("set MLMF_CAST_F32_DIGESTS (see tests/interop/test_cast.py)")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		CRC32 map[string]uint32 `json:"crc32"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.CRC32) == 0 {
		t.Fatal("no digests")
	}
	const step = 1 << 24
	src := make([]byte, 4*step)
	for name, want := range m.CRC32 {
		dt, err := formats.ParseDType(strings.TrimPrefix(name, "F32->"))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, step*dt.TypeSize())
		var crc uint32
		for lo := uint64(0); lo < 1<<32; lo += step {
			for i := uint64(0); i < step; i++ {
				binary.LittleEndian.PutUint32(src[4*i:], uint32(lo+i))
			}
			if err := Convert(dst, dt, src, formats.F32, Options{}); err != nil {
				t.Fatal(err)
			}
			crc = crc32.Update(crc, crc32.IEEETable, dst)
		}
		if crc != want {
			t.Errorf("%s over all 2^32 inputs: crc32 %08x, numpy/ml_dtypes %08x", name, crc, want)
		} else {
			t.Logf("%s: all 2^32 inputs match (crc32 %08x)", name, crc)
		}
	}
}
