package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/gateway/admin"
	"github.com/warren-mesh/warren/gateway/config"
)

// adminClient talks to a running gateway's admin API, found (address and
// token) through its config file.
type adminClient struct {
	http  *http.Client
	base  string
	token string
	path  string
}

func newAdminClient(op, flag string) (*adminClient, error) {
	path, err := gatewayConfigPath(flag)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no gateway config at %s: the running gateway is found through its config file; pass the one it runs with (--config), or start one with 'warren gateway', which writes the default there", op, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c := &adminClient{path: path}
	tr := &http.Transport{DisableKeepAlives: true}
	addr := cfg.AdminListen()
	if r, ok := admin.ReadRunning(path); ok {
		addr = r.Listen // where the running gateway listens, even if the file was edited since
	}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		}
		addr = "localhost"
	} else if h, port, err := net.SplitHostPort(addr); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	c.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	c.base = "http://" + addr
	if cfg.Normalized().Admin.Auth == config.AuthToken {
		tp := admin.TokenPath(cfg, path)
		b, err := os.ReadFile(tp)
		if err != nil {
			return nil, fmt.Errorf("gateway: admin token: %w (is the gateway started with this config?)", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

// do sends a request and decodes a JSON answer into out; an error answer
// becomes an error carrying the API's message.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("gateway: admin API at %s (from %s): %w (is a gateway running with this config?)", c.base, c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("gateway: admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("gateway: %s", e.Error)
		}
		return fmt.Errorf("gateway: admin API: %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// gatewayAdminCmds are the client commands of a running gateway.
func gatewayAdminCmds(env *Env, cfgPath *string) []*cobra.Command {
	var output string
	status := &cobra.Command{
		Use:   "status",
		Short: "Show a running gateway's routes and backends",
		Long: `Show the routes and backends of the gateway running with the config file
(--config), through its admin API and token.`,
		Example: `  warren gateway status
  warren gateway status -o json --config ./gateway.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "text" && output != "json" {
				return Usagef("gateway status: unknown output format %q (want text or json)", output)
			}
			c, err := newAdminClient("gateway status", *cfgPath)
			if err != nil {
				return err
			}
			var st map[string]any
			if err := c.do(cmd.Context(), "GET", "/status", nil, &st); err != nil {
				return err
			}
			if output == "json" {
				return printJSON(env.Stdout, st)
			}
			return printGatewayStatus(env.Stdout, st)
		},
	}
	status.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")

	logs := &cobra.Command{
		Use:   "logs REF",
		Short: "Print a backend's captured output",
		Long:  `Print the captured stdout/stderr of a backend of the running gateway. REF is PORT or PORT/BACKEND.`,
		Example: `  warren gateway logs 8080/app
  warren gateway logs 8090`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient("gateway logs", *cfgPath)
			if err != nil {
				return err
			}
			var out struct{ Lines []string }
			if err := c.do(cmd.Context(), "GET", "/logs?ref="+url.QueryEscape(args[0]), nil, &out); err != nil {
				return err
			}
			for _, l := range out.Lines {
				fmt.Fprintln(env.Stdout, l)
			}
			return nil
		},
	}

	kill := &cobra.Command{
		Use:     "kill REF",
		Short:   "Stop a backend's processes (the next request starts it again)",
		Long:    `Stop a backend's process group (SIGTERM, then SIGKILL) in the running gateway. REF is PORT or PORT/BACKEND.`,
		Example: `  warren gateway kill 8080/app`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient("gateway kill", *cfgPath)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"ref": args[0]})
			if err := c.do(cmd.Context(), "POST", "/kill", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "killed %s\n", args[0])
			return nil
		},
	}

	reload := &cobra.Command{
		Use:   "reload",
		Short: "Reload the running gateway from its config file",
		Long: `Validate the config file, then have the running gateway apply it through its
admin API (as SIGHUP does): unchanged routes keep their listeners,
connections and processes. An invalid file changes nothing.`,
		Example: `  warren gateway reload
  warren gateway reload --config ./gateway.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient("gateway reload", *cfgPath)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(c.path)
			if err != nil {
				return err
			}
			var out struct {
				Added, Removed, Changed, Unchanged []string
				Noop                               bool
			}
			if err := c.do(cmd.Context(), "PUT", "/config", data, &out); err != nil {
				return err
			}
			if out.Noop {
				fmt.Fprintln(env.Stdout, "unchanged")
				return nil
			}
			fmt.Fprintf(env.Stdout, "reloaded: added %v, removed %v, changed %v, %d unchanged\n", out.Added, out.Removed, out.Changed, len(out.Unchanged))
			return nil
		},
	}
	return []*cobra.Command{status, logs, kill, reload}
}

func printGatewayStatus(w io.Writer, st map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tNAME\tPROTOCOL\tLISTEN\tBACKENDS")
	routes, _ := st["routes"].([]any)
	for _, ri := range routes {
		r, _ := ri.(map[string]any)
		var bs []string
		list, _ := r["backends"].([]any)
		for _, bi := range list {
			b, _ := bi.(map[string]any)
			bs = append(bs, fmt.Sprintf("%v=%v", b["name"], b["state"]))
		}
		proto := fmt.Sprint(r["protocol"])
		if r["handoff"] == true {
			proto += "/handoff"
		}
		fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%s\n", r["port"], r["name"], proto, r["listen"], strings.Join(bs, " "))
	}
	return tw.Flush()
}
