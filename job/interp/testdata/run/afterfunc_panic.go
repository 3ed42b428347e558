package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Println("start")
	time.AfterFunc(time.Millisecond, func() {
		panic("boom in AfterFunc")
	})
	time.Sleep(10 * time.Second)
}
