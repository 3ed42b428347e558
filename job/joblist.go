package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// JobList is the YAML document of `warren joblist save|load`: groups with
// their options, and jobs. Options give defaults for jobs that leave a
// field out.
type JobList struct {
	Version int            `yaml:"version"`
	Options JobListOptions `yaml:"options,omitempty"`
	Groups  []JobListGroup `yaml:"groups,omitempty"`
	Jobs    []JobListJob   `yaml:"jobs"`
}

// JobListOptions are defaults for the jobs of a JobList.
type JobListOptions struct {
	Group   string `yaml:"group,omitempty"`
	Mode    string `yaml:"mode,omitempty"`
	Restart string `yaml:"restart,omitempty"`
}

// JobListGroup is a group and its process options.
type JobListGroup struct {
	Name     string `yaml:"name"`
	RT       int    `yaml:"rt,omitempty"`
	MaxProcs int    `yaml:"maxprocs,omitempty"`
}

// JobListJob is one job. Stopped jobs are recreated without being started.
type JobListJob struct {
	Name        string   `yaml:"name,omitempty"`
	Group       string   `yaml:"group,omitempty"`
	Path        string   `yaml:"path"`
	Args        []string `yaml:"args,omitempty"`
	Env         []string `yaml:"env,omitempty"`
	Dir         string   `yaml:"dir,omitempty"`
	Mode        string   `yaml:"mode,omitempty"`
	Restart     string   `yaml:"restart,omitempty"`
	Interactive bool     `yaml:"interactive,omitempty"`
	AutoRemove  bool     `yaml:"auto_remove,omitempty"`
	Stopped     bool     `yaml:"stopped,omitempty"`
}

const jobListVersion = 1

// SaveJobList writes every group and job as a YAML JobList.
func (m *Manager) SaveJobList(w io.Writer) error {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return err
	}
	jl := JobList{Version: jobListVersion}
	for _, g := range m.groups {
		jl.Groups = append(jl.Groups, JobListGroup{Name: g.name, RT: g.rtPrio, MaxProcs: g.maxProcs})
	}
	type js struct {
		st   Status
		want string
	}
	var jobs []js
	for _, j := range m.jobs {
		jobs = append(jobs, js{j.st, j.want})
	}
	m.mu.Unlock()
	sort.Slice(jl.Groups, func(a, b int) bool { return jl.Groups[a].Name < jl.Groups[b].Name })
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].st.Created.Before(jobs[b].st.Created) })
	for _, j := range jobs {
		s := j.st.Spec
		jl.Jobs = append(jl.Jobs, JobListJob{Name: s.Name, Group: s.Group, Path: s.Path, Args: s.Args, Env: s.Env,
			Dir: s.Dir, Mode: string(s.Mode), Restart: s.Restart.String(), Interactive: s.Interactive,
			AutoRemove: s.AutoRemove, Stopped: j.want == wantStopped})
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(jl); err != nil {
		return fmt.Errorf("job: save job list: %w", err)
	}
	return enc.Close()
}

// ParseJobList decodes and validates a YAML JobList strictly: an unknown
// field, a bad value or a missing path is an error naming where it is. It
// returns the groups and the job specs (defaults applied, not yet checked
// against the file system).
func ParseJobList(data []byte) (JobList, []Spec, error) {
	var jl JobList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&jl); err != nil {
		if errors.Is(err, io.EOF) {
			return jl, nil, fmt.Errorf("job: job list: empty document: %w", ErrBadSpec)
		}
		// yaml.v3 names an unknown field by line and Go type
		// ("field bogus not found in type job.JobListJob"); say its path.
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil {
			if path, known := unknownField(&doc, reflect.TypeOf(jl), ""); path != "" {
				return jl, nil, fmt.Errorf("job: job list: %s: unknown field (known: %s): %w", path, strings.Join(known, ", "), ErrBadSpec)
			}
		}
		return jl, nil, fmt.Errorf("job: job list: %w: %w", err, ErrBadSpec)
	}
	if jl.Version != 0 && jl.Version != jobListVersion {
		return jl, nil, fmt.Errorf("job: job list: version %d, want %d: %w", jl.Version, jobListVersion, ErrBadSpec)
	}
	bad := func(where string, format string, a ...any) error {
		return fmt.Errorf("job: job list: %s: %s: %w", where, fmt.Sprintf(format, a...), ErrBadSpec)
	}
	if jl.Options.Group != "" && !ValidGroupName(jl.Options.Group) {
		return jl, nil, bad("options.group", "invalid group name %q", jl.Options.Group)
	}
	if _, err := ParseMode(jl.Options.Mode); err != nil {
		return jl, nil, bad("options.mode", "%q", jl.Options.Mode)
	}
	if _, err := ParseRestartPolicy(jl.Options.Restart); err != nil {
		return jl, nil, bad("options.restart", "%q", jl.Options.Restart)
	}
	seen := map[string]bool{}
	for i, g := range jl.Groups {
		where := fmt.Sprintf("groups[%d]", i)
		switch {
		case !ValidGroupName(g.Name):
			return jl, nil, bad(where+".name", "invalid group name %q", g.Name)
		case seen[g.Name]:
			return jl, nil, bad(where+".name", "duplicate group %q", g.Name)
		case g.RT < 0 || g.RT > 99:
			return jl, nil, bad(where+".rt", "%d not in 0-99", g.RT)
		case g.MaxProcs < 0:
			return jl, nil, bad(where+".maxprocs", "%d < 0", g.MaxProcs)
		}
		seen[g.Name] = true
	}
	specs := make([]Spec, 0, len(jl.Jobs))
	for i, j := range jl.Jobs {
		where := fmt.Sprintf("jobs[%d]", i)
		if j.Path == "" {
			return jl, nil, bad(where+".path", "missing")
		}
		s := Spec{Name: j.Name, Group: j.Group, Path: j.Path, Args: j.Args, Env: j.Env, Dir: j.Dir,
			Interactive: j.Interactive, AutoRemove: j.AutoRemove}
		if s.Group == "" {
			s.Group = jl.Options.Group
		}
		if s.Group != "" && !ValidGroupName(s.Group) {
			return jl, nil, bad(where+".group", "invalid group name %q", s.Group)
		}
		mode := j.Mode
		if mode == "" {
			mode = jl.Options.Mode
		}
		m, err := ParseMode(mode)
		if err != nil {
			return jl, nil, bad(where+".mode", "%q", mode)
		}
		s.Mode = m
		restart := j.Restart
		if restart == "" {
			restart = jl.Options.Restart
		}
		if s.Restart, err = ParseRestartPolicy(restart); err != nil {
			return jl, nil, bad(where+".restart", "%q", restart)
		}
		specs = append(specs, s)
	}
	return jl, specs, nil
}

// LoadJobList recreates the groups and jobs of a YAML JobList (new IDs).
func (m *Manager) LoadJobList(ctx context.Context, r io.Reader) error {
	_, err := m.LoadJobListJobs(ctx, r)
	return err
}

// LoadJobListJobs is LoadJobList returning the jobs it created. Nothing is
// created when the document or any job spec is invalid.
func (m *Manager) LoadJobListJobs(ctx context.Context, r io.Reader) ([]Status, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("job: load job list: %w", err)
	}
	jl, specs, err := ParseJobList(data)
	if err != nil {
		return nil, err
	}
	opts := map[string]JobListGroup{}
	for _, g := range jl.Groups {
		opts[g.Name] = g
	}
	for i := range specs {
		g := opts[specs[i].Group]
		if specs[i].Group == "" {
			g = opts[DefaultGroup]
		}
		specs[i].RTPrio, specs[i].MaxProcs = g.RT, g.MaxProcs
		if err := specs[i].normalize(); err != nil {
			return nil, fmt.Errorf("job: job list: jobs[%d]: %w", i, err)
		}
	}
	for _, g := range jl.Groups {
		if _, err := m.ensureGroup(ctx, g.Name, g.RT, g.MaxProcs); err != nil {
			return nil, fmt.Errorf("job: load job list: %w", err)
		}
	}
	var out []Status
	for i, s := range specs {
		st, err := m.create(ctx, s, !jl.Jobs[i].Stopped)
		if err != nil {
			return out, fmt.Errorf("job: load job list: jobs[%d]: %w", i, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// unknownField returns the path (such as "jobs[2].restrat") of the first key
// of n that t has no yaml field for, with the keys t knows; "" if none.
func unknownField(n *yaml.Node, t reflect.Type, path string) (string, []string) {
	switch {
	case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
		return unknownField(n.Content[0], t, path)
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if p, known := unknownField(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p, known
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = t.Field(i).Type
				known = append(known, name)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			ft, ok := fields[key]
			if !ok {
				return p, known
			}
			if p, known := unknownField(n.Content[i+1], ft, p); p != "" {
				return p, known
			}
		}
	}
	return "", nil
}
