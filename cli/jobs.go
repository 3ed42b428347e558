package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/daemon/api"
)

// jobFlags are the flags every job command shares.
type jobFlags struct {
	workdir string
	output  string
}

func (f *jobFlags) add(c *cobra.Command, withOutput bool) {
	addWorkdirFlag(c, &f.workdir)
	if withOutput {
		addOutputFlag(c, &f.output)
	}
}

func newRunCmd(env *Env) *cobra.Command {
	var (
		f    jobFlags
		spec api.JobSpec
		envs []string
	)
	c := &cobra.Command{
		Use:   "run [flags] <file.go|dir|executable> [args...]",
		Short: "Run a Go program (interpreted) or an executable as a job on the daemon",
		Long: `Run a program as a job and print its ID.

A .go file or a directory of Go files runs interpreted in a group (a process
hosting many jobs; --group chooses it, default: the group "default", shared by
every job run without --group). Anything else runs as an executable in its own
process group. Everything after the
program path is the program's own: 'warren run app.go -h' shows app.go's help.
Relative paths are resolved against the current directory, which is also the
job's working directory.

With -i the job's stdin and stdout are attached to this terminal (or pipe) and
warren exits with the job's exit code.

Restart policies: no (default), on-failure[:N] (restart after a failure, at
most N times), always. Restarts back off exponentially; a crash loop is
quarantined.`,
		Example: `  warren run hello.go
  warren run --group web --restart on-failure:5 server.go --port 8080
  echo hi | warren run -i --rm cat.go
  warren run --env DEBUG=1 --name ticker /usr/bin/vmstat 5
  warren run --group rt --rt 10 --maxprocs 1 control.go`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("run", f.output); err != nil {
				return err
			}
			switch spec.Mode {
			case "", "interpreted", "compiled", "auto":
			default:
				return Usagef("run: unknown --mode %q (want interpreted, compiled or auto)", spec.Mode)
			}
			for _, kv := range envs {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					return Usagef("run: --env %q: want KEY=VALUE", kv)
				}
			}
			if spec.RTPrio < 0 || spec.RTPrio > 99 {
				return Usagef("run: --rt %d: want a priority from 1 to 99", spec.RTPrio)
			}
			if spec.MaxProcs < 0 {
				return Usagef("run: --maxprocs %d: want a positive number", spec.MaxProcs)
			}
			cwd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			path, err := resolveProgram(cwd, args[0])
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			spec.Path, spec.Args, spec.Env, spec.Dir = path, args[1:], envs, cwd
			ctx := cmd.Context()
			dc, err := dialDaemon(ctx, f.workdir)
			if err != nil {
				return err
			}
			defer dc.Close()
			if spec.Interactive {
				code, err := dc.runInteractive(ctx, spec, env.Stdin, env.Stdout)
				if err != nil && code != 0 {
					// A job that failed with a reason (a panic: 2, a
					// compile error: 1) exits with its own code, as
					// `warren exec` does, and says why.
					return &ExitError{Code: code, Err: err}
				}
				if err != nil {
					return err
				}
				if code != 0 {
					return &ExitError{Code: code}
				}
				return nil
			}
			var job api.Job
			if err := dc.call(ctx, api.RunReq{Spec: spec}, &job); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			// A note is what the user must know now: --rt refused by the
			// kernel, a fallback from interpreted to compiled mode...
			if job.Note != "" {
				fmt.Fprintf(env.Stderr, "warren: run %s: %s\n", job.ID, job.Note)
			}
			if f.output == outJSON {
				return writeJSON(env.Stdout, job)
			}
			_, err = fmt.Fprintln(env.Stdout, job.ID)
			return err
		},
	}
	c.Flags().SetInterspersed(false)
	fl := c.Flags()
	fl.StringVar(&spec.Group, "group", "", "group (process) to run an interpreted job in; created if missing")
	fl.StringVar(&spec.Name, "name", "", "job name (default: the program's base name)")
	fl.BoolVarP(&spec.Interactive, "interactive", "i", false, "attach stdin/stdout and exit with the job's exit code")
	fl.BoolVar(&spec.AutoRemove, "rm", false, "remove the job when it ends")
	fl.StringVar(&spec.Restart, "restart", "", "restart policy: no, on-failure[:N] or always")
	fl.IntVar(&spec.RTPrio, "rt", 0, "run the group with real-time priority PRIO (SCHED_RR, 1-99)")
	fl.IntVar(&spec.MaxProcs, "maxprocs", 0, "GOMAXPROCS of the group")
	fl.StringArrayVar(&envs, "env", nil, "set an environment variable KEY=VALUE for the job (repeatable)")
	fl.StringVar(&spec.Mode, "mode", "", "interpreted, compiled or auto (default auto: interpreted, compiled if the interpreter refuses)")
	f.add(c, true)
	return c
}

// resolveProgram makes the program argument absolute: a path that exists
// relative to cwd is joined to it; a bare name not found there is looked up
// in $PATH, as a shell would.
func resolveProgram(cwd, arg string) (string, error) {
	if arg == "" {
		return "", errors.New("empty program path")
	}
	p := arg
	if !filepath.IsAbs(p) {
		p = filepath.Join(cwd, p)
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	} else if strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".go") {
		return "", fmt.Errorf("%s: no such file or directory", arg)
	}
	lp, err := exec.LookPath(arg)
	if err != nil {
		return "", fmt.Errorf("%s: no such file, directory or command in $PATH", arg)
	}
	return filepath.Abs(lp)
}

func newPsCmd(env *Env) *cobra.Command {
	var f jobFlags
	c := &cobra.Command{
		Use:   "ps [ID|name|group...]",
		Short: "List jobs, or show one job in detail",
		Long: `List the daemon's jobs: ID, group, name, status, start time, uptime (or how
long ago it ended), restarts. Arguments filter by ID, name or group and may
be globs. A single argument that is a job ID shows that job in detail (args,
mode, exit code or error, requester).`,
		Example: `  warren ps
  warren ps 'web*'
  warren ps 3f9c1a2b
  warren ps -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("ps", f.output); err != nil {
				return err
			}
			ctx := cmd.Context()
			var jobs api.Jobs
			if err := callDaemon(ctx, f.workdir, "ps", api.PsReq{Patterns: args}, &jobs); err != nil {
				return err
			}
			if len(args) == 1 && len(jobs.Jobs) == 1 && jobs.Jobs[0].ID == args[0] {
				if f.output == outJSON {
					return writeJSON(env.Stdout, jobs.Jobs[0])
				}
				return writeJobDetail(env.Stdout, jobs.Jobs[0], time.Now())
			}
			if len(args) > 0 && len(jobs.Jobs) == 0 {
				return fmt.Errorf("ps: no job matches %s", strings.Join(args, " "))
			}
			if f.output == outJSON {
				if jobs.Jobs == nil {
					jobs.Jobs = []api.Job{}
				}
				return writeJSON(env.Stdout, jobs.Jobs)
			}
			return writeJobTable(env.Stdout, jobs.Jobs, time.Now())
		},
	}
	f.add(c, true)
	return c
}

func writeJobTable(w io.Writer, jobs []api.Job, now time.Time) error {
	t := newTable("ID", "GROUP", "NAME", "STATUS", "START", "UPTIME", "RESTARTS")
	for _, j := range jobs {
		up := "-"
		switch {
		case !j.Ended.IsZero():
			up = "exited " + humanDuration(now.Sub(j.Ended)) + " ago"
		case !j.Started.IsZero():
			up = humanDuration(now.Sub(j.Started))
		}
		status := j.State
		if j.State == "exited" || j.State == "failed" {
			status = fmt.Sprintf("%s(%d)", j.State, j.ExitCode)
		}
		group := j.Spec.Group
		t.add(j.ID, group, j.Spec.Name, status, shortTime(j.Started, now), up, strconv.Itoa(j.Restarts))
	}
	return t.write(w)
}

func writeJobDetail(w io.Writer, j api.Job, now time.Time) error {
	s := j.Spec
	args := strings.Join(append([]string{s.Path}, s.Args...), " ")
	pairs := [][2]string{
		{"ID", j.ID},
		{"Name", s.Name},
		{"Group", orDash(s.Group)},
		{"State", j.State},
		{"PID", pidString(j.PID)},
		{"Command", args},
		{"Dir", orDash(s.Dir)},
		{"Mode", modeString(s.Mode, j.ModeUsed)},
		{"Restart", orDash(s.Restart)},
		{"Restarts", strconv.Itoa(j.Restarts)},
		{"Created", timeString(j.Created)},
		{"Started", timeString(j.Started)},
	}
	if !j.Ended.IsZero() {
		pairs = append(pairs, [2]string{"Ended", timeString(j.Ended)}, [2]string{"Exit code", strconv.Itoa(j.ExitCode)})
	} else if !j.Started.IsZero() {
		pairs = append(pairs, [2]string{"Uptime", humanDuration(now.Sub(j.Started))})
	}
	if j.Error != "" {
		pairs = append(pairs, [2]string{"Error", j.Error})
	}
	if j.Note != "" {
		pairs = append(pairs, [2]string{"Note", j.Note})
	}
	if len(s.Env) > 0 {
		pairs = append(pairs, [2]string{"Env", strings.Join(s.Env, " ")})
	}
	if s.RTPrio > 0 {
		pairs = append(pairs, [2]string{"RT priority", strconv.Itoa(s.RTPrio)})
	}
	if s.MaxProcs > 0 {
		pairs = append(pairs, [2]string{"GOMAXPROCS", strconv.Itoa(s.MaxProcs)})
	}
	pairs = append(pairs, [2]string{"Requester", orDash(j.Requester)})
	return kv(w, pairs...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pidString(p int) string {
	if p <= 0 {
		return "-"
	}
	return strconv.Itoa(p)
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

func modeString(asked, used string) string {
	if asked == "" {
		asked = "auto"
	}
	if used == "" || used == asked {
		return asked
	}
	return asked + " (ran " + used + ")"
}

// newJobOpCmd builds stop, start and rm: one request per ID; every ID is
// tried, and the command fails if any failed.
func newJobOpCmd(env *Env, name, short, long, example string, mk func(id string) any) *cobra.Command {
	var f jobFlags
	c := &cobra.Command{
		Use:     name + " ID...",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(name, f.output); err != nil {
				return err
			}
			ctx := cmd.Context()
			dc, err := dialDaemon(ctx, f.workdir)
			if err != nil {
				return err
			}
			defer dc.Close()
			var (
				failed int
				out    []api.Job
			)
			for _, id := range args {
				var j api.Job
				if err := dc.call(ctx, mk(id), &j); err != nil {
					fmt.Fprintf(env.Stderr, "warren: %s %s: %v\n", name, id, err)
					failed++
					continue
				}
				out = append(out, j)
				if f.output == outText {
					fmt.Fprintln(env.Stdout, j.ID)
				}
			}
			if f.output == outJSON {
				if out == nil {
					out = []api.Job{}
				}
				writeJSON(env.Stdout, out)
			}
			if failed > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	f.add(c, true)
	return c
}

func newStopCmd(env *Env) *cobra.Command {
	return newJobOpCmd(env, "stop", "Stop running jobs",
		`Stop jobs: an executable's process group gets SIGTERM, then SIGKILL after a
grace period; an interpreted job is cancelled. The job stays listed (see
'warren start' and 'warren rm'). A stopped job is not restarted by its policy.`,
		"  warren stop 3f9c1a2b\n  warren stop 3f9c1a2b 77aa01cd",
		func(id string) any { return api.StopReq{ID: id} })
}

func newStartCmd(env *Env) *cobra.Command {
	return newJobOpCmd(env, "start", "Start stopped or ended jobs again",
		"Start jobs that were stopped or have ended, with the same ID and definition.",
		"  warren start 3f9c1a2b",
		func(id string) any { return api.StartReq{ID: id} })
}

func newRmCmd(env *Env) *cobra.Command {
	return newJobOpCmd(env, "rm", "Remove jobs that are not running",
		"Remove jobs and their state. A running job must be stopped first.",
		"  warren rm 3f9c1a2b\n  warren stop 3f9c1a2b && warren rm 3f9c1a2b",
		func(id string) any { return api.RemoveReq{ID: id} })
}

func newKillCmd(env *Env) *cobra.Command {
	var (
		f     jobFlags
		force bool
	)
	c := &cobra.Command{
		Use:   "kill [-f] GROUP",
		Short: "Kill job groups (processes hosting interpreted jobs)",
		Long: `Kill the groups whose name matches GROUP (a glob: 'web*', '*'). A group that
still runs jobs is refused unless -f is given; with -f its jobs are stopped
and the group process ends.`,
		Example: `  warren kill idle-group
  warren kill -f 'web*'
  warren kill -f '*'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("kill", f.output); err != nil {
				return err
			}
			if _, err := filepath.Match(args[0], ""); err != nil {
				return Usagef("kill: bad pattern %q: %v", args[0], err)
			}
			ctx := cmd.Context()
			var k api.Killed
			if err := callDaemon(ctx, f.workdir, "kill", api.KillReq{Pattern: args[0], Force: force}, &k); err != nil {
				return err
			}
			if f.output == outJSON {
				if k.Groups == nil {
					k.Groups = []string{}
				}
				return writeJSON(env.Stdout, k)
			}
			for _, g := range k.Groups {
				fmt.Fprintln(env.Stdout, g)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill groups even if they run jobs")
	f.add(c, true)
	return c
}

func newMvCmd(env *Env) *cobra.Command {
	var f jobFlags
	c := &cobra.Command{
		Use:   "mv ID GROUP",
		Short: "Move a job to another group at run time",
		Long: `Move a job to another group: it is stopped in its group and restarted in
GROUP (created if missing) with the same ID.`,
		Example: `  warren mv 3f9c1a2b fast
  warren mv 3f9c1a2b isolated-$(date +%s)`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("mv", f.output); err != nil {
				return err
			}
			ctx := cmd.Context()
			var j api.Job
			if err := callDaemon(ctx, f.workdir, "mv", api.MoveReq{ID: args[0], Group: args[1]}, &j); err != nil {
				return err
			}
			if f.output == outJSON {
				return writeJSON(env.Stdout, j)
			}
			_, err := fmt.Fprintf(env.Stdout, "%s moved to group %s\n", j.ID, j.Spec.Group)
			return err
		},
	}
	f.add(c, true)
	return c
}

func newJobListCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "joblist",
		Short: "Save the job list to a YAML file, or load one",
		Long: `A job list is a YAML document of groups, jobs and their options. 'save'
writes the daemon's current jobs; 'load' recreates the jobs of a file (new
IDs, same definitions). FILE '-' is stdout or stdin.`,
		Example: `  warren joblist save jobs.yaml
  warren joblist load jobs.yaml`,
	}
	var f jobFlags
	save := &cobra.Command{
		Use:     "save FILE",
		Short:   "Write the daemon's job list to FILE (YAML)",
		Example: "  warren joblist save jobs.yaml\n  warren joblist save - | less",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var jl api.JobList
			if err := callDaemon(ctx, f.workdir, "joblist save", api.JobListSaveReq{}, &jl); err != nil {
				return err
			}
			if args[0] == "-" {
				_, err := env.Stdout.Write(jl.YAML)
				return err
			}
			if err := os.WriteFile(args[0], jl.YAML, 0o644); err != nil {
				return fmt.Errorf("joblist save: %w", err)
			}
			return nil
		},
	}
	var lf jobFlags
	load := &cobra.Command{
		Use:     "load FILE",
		Short:   "Recreate the jobs of a job list file",
		Example: "  warren joblist load jobs.yaml\n  cat jobs.yaml | warren joblist load -",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("joblist load", lf.output); err != nil {
				return err
			}
			var (
				b   []byte
				err error
			)
			if args[0] == "-" {
				b, err = io.ReadAll(env.Stdin)
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("joblist load: %w", err)
			}
			ctx := cmd.Context()
			var jobs api.Jobs
			if err := callDaemon(ctx, lf.workdir, "joblist load", api.JobListLoadReq{YAML: b}, &jobs); err != nil {
				return err
			}
			if lf.output == outJSON {
				if jobs.Jobs == nil {
					jobs.Jobs = []api.Job{}
				}
				return writeJSON(env.Stdout, jobs.Jobs)
			}
			return writeJobTable(env.Stdout, jobs.Jobs, time.Now())
		},
	}
	f.add(save, false)
	lf.add(load, true)
	c.AddCommand(save, load)
	return c
}

func newLogCmd(env *Env) *cobra.Command {
	var (
		f      jobFlags
		n      int
		follow bool
	)
	c := &cobra.Command{
		Use:   "log [-f] [-n N] ID|daemon|GROUP",
		Short: "Show the log of a job, a group or the daemon",
		Long: `Print a log: a job's captured stdout and stderr (with timestamps), a group's
log, or the daemon's own log ('daemon'). -n prints only the last N lines;
-f keeps printing new lines until the job ends or Ctrl-C.`,
		Example: `  warren log 3f9c1a2b
  warren log -f -n 20 3f9c1a2b
  warren log daemon`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return Usagef("log: -n %d: want a number of lines >= 0", n)
			}
			ctx := cmd.Context()
			dc, err := dialDaemon(ctx, f.workdir)
			if err != nil {
				return err
			}
			defer dc.Close()
			if err := dc.streamLog(ctx, api.LogReq{Target: args[0], N: n, Follow: follow}, env.Stdout); err != nil {
				return fmt.Errorf("log: %w", err)
			}
			return nil
		},
	}
	c.Flags().IntVarP(&n, "lines", "n", 0, "print only the last N lines (0: all)")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the job ends or Ctrl-C")
	f.add(c, false)
	return c
}
