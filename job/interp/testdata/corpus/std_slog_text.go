package main

import (
	"log/slog"
	"os"
)

func main() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	l := slog.New(h)
	l.Info("started", "port", 8080, "ok", true)
	l.With("job", "j1").Warn("slow", slog.Duration("took", 1500000000))
}

// Output:
// level=INFO msg=started port=8080 ok=true
// level=WARN msg=slow job=j1 took=1.5s
