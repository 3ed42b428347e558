package main

import (
	"fmt"
	"regexp"
)

func main() {
	re := regexp.MustCompile(`(\w+)@(\w+)\.com`)
	s := "mail ann@example.com and bob@test.com"
	fmt.Println(re.MatchString(s))
	fmt.Println(re.FindString(s), re.FindAllString(s, -1))
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		fmt.Println(m[1], m[2])
	}
	fmt.Println(re.ReplaceAllString(s, "<$1 at $2>"))
	_, err := regexp.Compile(`(`)
	fmt.Println(err != nil)
	fmt.Println(regexp.MustCompile(`^\d{3}-\d{4}$`).MatchString("555-1234"))
}

// Output:
// true
// ann@example.com [ann@example.com bob@test.com]
// ann example
// bob test
// mail <ann at example> and <bob at test>
// true
// true
