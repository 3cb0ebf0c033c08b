//go:build race

package cast

// sampleScale shrinks the randomised sweeps under the race detector, which
// runs them ~20x slower; plain `go test` runs them at full size.
const sampleScale = 16
