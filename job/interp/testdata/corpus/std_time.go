package main

import (
	"fmt"
	"time"
)

func main() {
	t := time.Date(2024, time.March, 15, 10, 30, 0, 0, time.UTC)
	fmt.Println(t.Format(time.RFC3339), t.Weekday(), t.YearDay())
	fmt.Println(t.Add(36*time.Hour).Format("2006-01-02 15:04"), t.Unix())
	u, err := time.Parse("2006-01-02", "2024-12-25")
	fmt.Println(u.Sub(t).Hours(), err)
	d, _ := time.ParseDuration("1h15m30.5s")
	fmt.Println(d, d.Round(time.Minute), d.Truncate(time.Hour))
	fmt.Println(t.Before(u), t.Equal(t.In(time.UTC)), t.Month(), t.AddDate(0, 1, 0).Format("Jan 2"))
	start := time.Now()
	time.Sleep(2 * time.Millisecond)
	fmt.Println(time.Since(start) >= 2*time.Millisecond)
}

// Output:
// 2024-03-15T10:30:00Z Friday 75
// 2024-03-16 22:30 1710498600
// 6829.5 <nil>
// 1h15m30.5s 1h16m0s 1h0m0s
// true true March Apr 15
// true
