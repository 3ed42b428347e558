package config

import (
	"maps"
	"reflect"
	"slices"
)

// Normalized returns a deep copy of c with every default filled in, so the
// engine never has to know a default: after it, Protocol, LoadBalance, Bind,
// Readiness, Restart, CORS, timeouts and sizes are all set. A Duration or
// size ≤ 0 in the result means "no limit". Backend names stay as written
// (use BackendName for display). Normalized is idempotent.
func (c Config) Normalized() Config {
	n := c.Clone()
	if n.DashboardHost == "" {
		n.DashboardHost = DefaultDashboardHost
	}
	if n.DashboardPort == "" {
		n.DashboardPort = DefaultDashboardPort
	}
	if len(n.TrustedOrigins) == 0 {
		n.TrustedOrigins = nil // null, absent and [] mean the same
	}
	if n.Admin == nil {
		n.Admin = &Admin{}
	}
	if n.Admin.Auth == "" {
		n.Admin.Auth = AuthToken
	}
	if n.Admin.TokenFile == "" {
		n.Admin.TokenFile = DefaultTokenFile
	}
	if n.Routes == nil {
		n.Routes = map[string]Route{}
	}
	for p, r := range n.Routes {
		n.Routes[p] = r.normalized(p)
	}
	return n
}

func orDur(d *Duration, def Duration) {
	if *d == 0 {
		*d = def
	}
}

func (r Route) normalized(port string) Route {
	if r.Name == "" {
		r.Name = "route-" + port
	}
	if r.Protocol == "" {
		r.Protocol = ProtocolHTTP
	}
	if r.Protocol == ProtocolStdio && r.StdioMode == "" {
		r.StdioMode = StdioStream
	}
	if r.LoadBalance == "" {
		r.LoadBalance = BalanceRoundRobin
	}
	if r.Bind == "" {
		r.Bind = DefaultBind
	}
	stdioHTTP := r.Protocol == ProtocolStdio && r.StdioMode != StdioStream
	orDur(&r.StartTimeout, Duration(DefaultStartTimeout))
	orDur(&r.IdleTimeout, Disabled)
	orDur(&r.StopGrace, Duration(DefaultStopGrace))
	orDur(&r.ReadHeaderTimeout, Duration(DefaultReadHeaderTimeout))
	if stdioHTTP {
		orDur(&r.RequestTimeout, Duration(DefaultStdioRequestTimeout))
	} else {
		orDur(&r.RequestTimeout, Disabled)
	}
	if r.Protocol == ProtocolHTTP {
		orDur(&r.SendTimeout, Duration(DefaultSendTimeout))
	} else {
		orDur(&r.SendTimeout, Disabled)
	}
	if r.Protocol == ProtocolHTTP || r.StdioMode == StdioHTTP {
		orDur(&r.ConnIdleTimeout, Duration(DefaultConnIdleTimeout))
	} else {
		orDur(&r.ConnIdleTimeout, Disabled)
	}
	if r.MaxBodyBytes == 0 {
		r.MaxBodyBytes = -1
		if stdioHTTP {
			r.MaxBodyBytes = DefaultStdioMaxBody
		}
	}
	if r.MaxOutputBytes == 0 {
		r.MaxOutputBytes = DefaultStdioMaxOutput
	}
	if r.MaxPending == 0 {
		r.MaxPending = DefaultMaxPending
	}
	rd := Readiness{}
	if r.Readiness != nil {
		rd = *r.Readiness
	}
	if rd.Type == "" {
		switch {
		case r.Handoff:
			rd.Type = ReadySocket
		case r.Protocol == ProtocolStdio:
			rd.Type = ReadyNone
		default:
			rd.Type = ReadyTCP
		}
	}
	if rd.Type == ReadyHTTP && rd.Path == "" {
		rd.Path = "/"
	}
	orDur(&rd.Interval, Duration(DefaultReadyInterval))
	r.Readiness = &rd
	rs := Restart{}
	if r.Restart != nil {
		rs = *r.Restart
	}
	if rs.Policy == "" {
		rs.Policy = RestartOnDemand
	}
	orDur(&rs.Backoff, Duration(DefaultRestartBackoff))
	orDur(&rs.MaxBackoff, Duration(DefaultRestartMaxBackoff))
	r.Restart = &rs
	cs := CORS{}
	if r.CORS != nil {
		cs = *r.CORS
	}
	if cs.Mode == "" {
		cs.Mode = CORSTrusted
	}
	if cs.AllowMethods == nil {
		cs.AllowMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	}
	orDur(&cs.MaxAge, Duration(DefaultCORSMaxAge))
	for _, l := range []*[]string{&cs.Origins, &cs.AllowHeaders, &cs.ExposeHeaders} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	r.CORS = &cs
	for i := range r.Backends {
		b := &r.Backends[i]
		if len(b.Args) == 0 {
			b.Args = nil
		}
		if len(b.Env) == 0 {
			b.Env = nil
		}
		if b.Weight == 0 {
			b.Weight = DefaultWeight
		}
		if b.InternalHost == "" && b.InternalPort != "" {
			b.InternalHost = DefaultInternalHost
		}
	}
	return r
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	n := c
	n.TrustedOrigins = slices.Clone(c.TrustedOrigins)
	if c.Admin != nil {
		a := *c.Admin
		n.Admin = &a
	}
	if c.Routes != nil {
		n.Routes = make(map[string]Route, len(c.Routes))
		for p, r := range c.Routes {
			n.Routes[p] = r.Clone()
		}
	}
	return n
}

// Clone returns a deep copy of r.
func (r Route) Clone() Route {
	n := r
	if r.Readiness != nil {
		v := *r.Readiness
		n.Readiness = &v
	}
	if r.Restart != nil {
		v := *r.Restart
		n.Restart = &v
	}
	if r.CORS != nil {
		v := *r.CORS
		v.Origins = slices.Clone(v.Origins)
		v.AllowMethods = slices.Clone(v.AllowMethods)
		v.AllowHeaders = slices.Clone(v.AllowHeaders)
		v.ExposeHeaders = slices.Clone(v.ExposeHeaders)
		n.CORS = &v
	}
	if len(r.Backends) == 0 {
		n.Backends = nil
	} else {
		n.Backends = make([]Backend, len(r.Backends))
		for i, b := range r.Backends {
			b.Args = slices.Clone(b.Args)
			b.Env = maps.Clone(b.Env)
			n.Backends[i] = b
		}
	}
	return n
}

// Equal reports whether a and b configure the same gateway: defaults
// written out and defaults left implicit compare equal, so reloading an
// equivalent file is a no-op.
func Equal(a, b Config) bool {
	return reflect.DeepEqual(a.Normalized(), b.Normalized())
}
