package main

import "fmt"

type State int

const (
	Idle State = iota
	Running
	Stopped
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Running:
		return "running"
	}
	return "stopped"
}

type Event string

var transitions = map[State]map[Event]State{
	Idle:    {"start": Running},
	Running: {"stop": Stopped, "pause": Idle},
}

func main() {
	s := Idle
	for _, e := range []Event{"start", "pause", "start", "stop", "start"} {
		next, ok := transitions[s][e]
		if !ok {
			fmt.Printf("%v: ignore %s\n", s, e)
			continue
		}
		fmt.Printf("%v --%s--> %v\n", s, e, next)
		s = next
	}
}

// Output:
// idle --start--> running
// running --pause--> idle
// idle --start--> running
// running --stop--> stopped
// stopped: ignore start
