//go:build !amd64

package cast

var hasAVX2 = false

var hasF16C = false

var useSIMD = false

func f32ToBF16Vec(d []uint16, s []uint32) int { return 0 }

func bf16ToF32Vec(d []uint32, s []uint16) int { return 0 }

func f64ToBF16Vec(d []uint16, s []uint64) int { return 0 }

func bf16ToF16Vec(d []uint16, s []uint16) int { return 0 }

func f32ToF16Vec(d []uint16, s []uint32) int { return 0 }
