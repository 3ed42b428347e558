// Package e2e holds warren's end-to-end tests: they build the warren binary
// (without -race, see testutil.WarrenBinary), start real daemons in temporary
// work dirs and drive them through the CLI exactly as a person would, then
// check that no process of the test is left behind.
package e2e
