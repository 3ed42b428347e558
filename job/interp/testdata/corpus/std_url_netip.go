package main

import (
	"fmt"
	"net/netip"
	"net/url"
)

func main() {
	u, err := url.Parse("https://user@example.com:8443/p/a?q=1&r=two#frag")
	fmt.Println(err, u.Scheme, u.Host, u.Port(), u.Path, u.Query().Get("r"), u.Fragment, u.User.Username())
	v := url.Values{}
	v.Set("b", "2")
	v.Add("a", "1 x")
	fmt.Println(v.Encode(), url.QueryEscape("a/b c"))
	p := netip.MustParsePrefix("10.0.0.0/8")
	a := netip.MustParseAddr("10.1.2.3")
	fmt.Println(p.Contains(a), a.Is4(), a.Next())
}

// Output:
// <nil> https example.com:8443 8443 /p/a two frag user
// a=1+x&b=2 a%2Fb+c
// true true 10.1.2.4
