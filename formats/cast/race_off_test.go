//go:build !race

package cast

const sampleScale = 1
