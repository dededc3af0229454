//go:build !race

package phlo_test

const raceEnabled = false
