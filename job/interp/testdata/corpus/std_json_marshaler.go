package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

type Level int

func (l Level) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.Repeat("*", int(l)))
}

type Report struct {
	Level Level `json:"level"`
}

func main() {
	b, err := json.Marshal(Report{3})
	fmt.Println(string(b), err)
}

// Output:
// {"level":"***"} <nil>
