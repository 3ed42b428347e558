package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/internal/buildinfo"
)

func newVersionCmd(env *Env) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print warren's version, commit, Go version and build features",
		Example: `  warren version
  warren version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := buildinfo.Get()
			switch output {
			case "", "text":
				_, err := fmt.Fprintln(env.Stdout, in.String())
				return err
			case "json":
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			return Usagef("version: unknown output format %q (want text or json)", output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
