package httpproxy

import (
	"bytes"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/warren-mesh/warren/gateway/cors"
)

// corsStripped are the response headers only the gateway may set.
var corsStripped = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
}

// applyCORS decides a request with package cors's policy. It answers
// refusals and preflights itself (done = true); otherwise it returns the
// decision to apply to the response (nil: not a cross-origin request).
// Requests without an Origin header, the common case, cost no allocation.
func applyCORS(ctx *fasthttp.RequestCtx, p *cors.Policy) (d *cors.Decision, done bool) {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return nil, false
	}
	dec := p.Decide(cors.Request{
		Method:         string(ctx.Method()),
		Host:           string(ctx.Host()),
		TLS:            ctx.IsTLS(),
		Origin:         string(origin),
		RequestMethod:  string(ctx.Request.Header.Peek("Access-Control-Request-Method")),
		RequestHeaders: string(ctx.Request.Header.Peek("Access-Control-Request-Headers")),
	})
	switch dec.Result {
	case cors.Refuse:
		ctx.Response.Reset()
		ctx.SetStatusCode(dec.Status)
		ctx.SetContentType(gatewayBodyType)
		ctx.SetBodyString(gatewayBody(dec.Reason))
		setCORSHeaders(&ctx.Response.Header, dec.Header)
		return nil, true
	case cors.Preflight:
		ctx.Response.Reset()
		ctx.SetStatusCode(dec.Status)
		setCORSHeaders(&ctx.Response.Header, dec.Header)
		return nil, true
	}
	return &dec, false
}

// finishCORS makes the response follow the decision: the backend's CORS
// headers removed, exactly one Access-Control-Allow-Origin, Vary: Origin.
func finishCORS(ctx *fasthttp.RequestCtx, d *cors.Decision) {
	h := &ctx.Response.Header
	if ctx.Response.StatusCode() == fasthttp.StatusSwitchingProtocols {
		return // hijacked: the backend's handshake goes out untouched
	}
	for _, k := range corsStripped {
		h.Del(k)
	}
	if d == nil {
		addVary(h, "Origin")
		return
	}
	setCORSHeaders(h, d.Header)
}

func setCORSHeaders(h *fasthttp.ResponseHeader, hd http.Header) {
	for k, vs := range hd {
		if k == "Vary" {
			for _, v := range vs {
				addVary(h, v)
			}
			continue
		}
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

func addVary(h *fasthttp.ResponseHeader, v string) {
	for _, line := range h.PeekAll("Vary") {
		for _, f := range bytes.Split(line, []byte{','}) {
			f = bytes.TrimSpace(f)
			if string(f) == "*" || bytes.EqualFold(f, []byte(v)) {
				return
			}
		}
	}
	h.Add("Vary", v)
}
