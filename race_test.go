//go:build race

package phlo_test

const raceEnabled = true
