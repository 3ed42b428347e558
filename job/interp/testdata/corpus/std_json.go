package main

import (
	"encoding/json"
	"fmt"
)

type Address struct {
	City string `json:"city"`
	Zip  string `json:"zip,omitempty"`
}

type Person struct {
	Name    string            `json:"name"`
	Age     int               `json:"age"`
	Email   string            `json:"-"`
	Tags    []string          `json:"tags"`
	Addr    *Address          `json:"addr,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
	private int
}

func main() {
	p := Person{Name: "Ann", Age: 30, Email: "x", Tags: []string{"a"}, Addr: &Address{City: "Oslo"}}
	b, err := json.Marshal(p)
	fmt.Println(string(b), err)
	var q Person
	err = json.Unmarshal([]byte(`{"name":"Bob","age":5,"tags":["x","y"],"addr":{"city":"Rome","zip":"00100"}}`), &q)
	fmt.Println(err, q.Name, q.Age, q.Tags, q.Addr.City, q.Addr.Zip)
	ind, _ := json.MarshalIndent(map[string]any{"b": 1, "a": []int{1, 2}}, "", "  ")
	fmt.Println(string(ind))
}

// Output:
// {"name":"Ann","age":30,"tags":["a"],"addr":{"city":"Oslo"}} <nil>
// <nil> Bob 5 [x y] Rome 00100
// {
//   "a": [
//     1,
//     2
//   ],
//   "b": 1
// }
