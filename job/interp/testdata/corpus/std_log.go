package main

import (
	"fmt"
	"log"
	"os"
)

func main() {
	l := log.New(os.Stdout, "app: ", 0)
	l.Println("started")
	l.Printf("value=%d", 5)
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	log.Print("std logger")
	fmt.Println("end")
}

// Output:
// app: started
// app: value=5
// std logger
// end
