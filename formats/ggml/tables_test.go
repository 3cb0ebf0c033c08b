package ggml

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"testing"
)

// TestTablesMatchGGMLHeader pins the generated tables to SHA-256 sums of the
// C tables in ggml/src/ggml-common.h (llama.cpp as vendored by
// llama-cpp-python 0.3.36), computed from the header text by parsing each
// GGML_TABLE_BEGIN block and packing its values little-endian at the
// table's C width. tables_gen.go itself comes from gguf-py; the two sources
// agree, and the interop dequantization tests exercise every entry.
func TestTablesMatchGGMLHeader(t *testing.T) {
	sum := func(vals any) string {
		h := sha256.New()
		if err := binary.Write(h, binary.LittleEndian, vals); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	for _, c := range []struct {
		name string
		vals any
		want string
	}{
		{"iq2xxs_grid", iq2xxsGrid, "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54"},
		{"iq2xs_grid", iq2xsGrid, "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de"},
		{"iq2s_grid", iq2sGrid, "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88"},
		{"iq3xxs_grid", iq3xxsGrid, "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d"},
		{"iq3s_grid", iq3sGrid, "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f"},
		{"iq1s_grid", iq1sGrid, "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a"},
		{"ksigns_iq2xs", ksignsIQ2XS, "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31"},
		{"kvalues_iq4nl", kvaluesIQ4NL, "61aa47540aa024b5d6ddaa839b84ffe59f3d5a349af5c6c7ffcb5e0474b46163"},
		{"kvalues_fp4", kvaluesMXFP4, "adf76b672d47eb7fc0afd4db132d548d59d3190aa0ad118fdbf569d5fd478f97"},
	} {
		if got := sum(c.vals); got != c.want {
			t.Errorf("%s: sha256 %s, ggml-common.h %s", c.name, got, c.want)
		}
	}
}

// TestTableStructure checks properties the tables have by construction, so a
// corrupted regeneration fails with a readable message too.
func TestTableStructure(t *testing.T) {
	check64 := func(name string, grid []uint64, allowed ...uint8) {
		ok := map[uint8]bool{}
		for _, a := range allowed {
			ok[a] = true
		}
		seen := map[uint64]bool{}
		for i, g := range grid {
			if seen[g] {
				t.Errorf("%s[%d] repeats an entry", name, i)
			}
			seen[g] = true
			for j := 0; j < 8; j++ {
				if b := uint8(g >> (8 * j)); !ok[b] {
					t.Fatalf("%s[%d] byte %d = %#x", name, i, j, b)
				}
			}
		}
	}
	check64("iq2xxs", iq2xxsGrid[:], 0x08, 0x19, 0x2b)
	check64("iq2xs", iq2xsGrid[:], 0x08, 0x19, 0x2b)
	check64("iq2s", iq2sGrid[:], 0x08, 0x19, 0x2b)
	check64("iq1s", iq1sGrid[:], 0xff, 0x00, 0x01)
	check32 := func(name string, grid []uint32, allowed ...uint8) {
		ok := map[uint8]bool{}
		for _, a := range allowed {
			ok[a] = true
		}
		for i, g := range grid {
			for j := 0; j < 4; j++ {
				if b := uint8(g >> (8 * j)); !ok[b] {
					t.Fatalf("%s[%d] byte %d = %#x", name, i, j, b)
				}
			}
		}
	}
	check32("iq3xxs", iq3xxsGrid[:], 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3e)
	check32("iq3s", iq3sGrid[:], 1, 3, 5, 7, 9, 11, 13, 15)
	// ksigns: the low 7 bits are the index, bit 7 makes the parity even.
	for i, s := range ksignsIQ2XS {
		if int(s&127) != i || bits.OnesCount8(s)%2 != 0 {
			t.Fatalf("ksigns[%d] = %#x", i, s)
		}
	}
	for i := 1; i < 16; i++ {
		if kvaluesIQ4NL[i] <= kvaluesIQ4NL[i-1] {
			t.Fatalf("kvalues_iq4nl not increasing at %d", i)
		}
	}
}
