package main

import (
	"fmt"
	"reflect"
)

type Config struct {
	Host string `env:"HOST" default:"localhost"`
	Port int    `env:"PORT" default:"8080"`
	skip bool
}

func main() {
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fmt.Println(f.Name, f.Type, f.Tag.Get("env"), f.Tag.Get("default"))
	}
	v := reflect.ValueOf(&Config{}).Elem()
	v.FieldByName("Port").SetInt(9090)
	fmt.Println(v.Interface().(Config).Port, v.Kind(), t.Kind() == reflect.Struct)
}

// Output:
// Host string HOST localhost
// Port int PORT 8080
// skip bool
// 9090 struct true
