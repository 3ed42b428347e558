package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// Output formats shared by the daemon and job commands.
const (
	outText = "text"
	outJSON = "json"
)

// addOutputFlag adds -o/--output (text or json) to c.
func addOutputFlag(c *cobra.Command, p *string) {
	c.Flags().StringVarP(p, "output", "o", outText, "output format: text or json")
}

// checkOutput validates an -o value; a bad one is a usage error (exit 2).
func checkOutput(cmd, o string) error {
	switch o {
	case outText, outJSON:
		return nil
	}
	return Usagef("%s: unknown output format %q (want text or json)", cmd, o)
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints aligned columns: a header row, then rows. Cells are
// sanitised so a job name with a tab or newline cannot break the layout.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, cleanCell(c))
		}
		io.WriteString(tw, "\n")
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	return tw.Flush()
}

func cleanCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// kv prints "key: value" lines aligned on the colon, for detail views.
func kv(w io.Writer, pairs ...[2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], strings.ReplaceAll(p[1], "\n", "\n\t"))
	}
	return tw.Flush()
}

// humanDuration renders d coarsely, the way ps shows uptimes: 45s, 3m12s,
// 2h05m, 4d03h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// shortTime renders a start time: clock time today, date and time otherwise.
func shortTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t = t.Local()
	y, m, d := t.Date()
	ny, nm, nd := now.Local().Date()
	if y == ny && m == nm && d == nd {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}
