// Package httpproxy is the gateway's HTTP data path, in two parts behind
// one listener:
//
//   - The lane (lane.go, h1.go): event loops (internal/evloop) serve plain
//     keep-alive requests to ready backends with no goroutine per
//     connection. It measures about 0.8x the CPU per request of nginx with
//     upstream keepalive on the 2-core reference machine, where the
//     fasthttp path alone takes about 1.3x (BenchmarkHTTPProxy in package
//     gateway measures both in every run).
//   - The general path: a reverse proxy on github.com/valyala/fasthttp
//     (server, and one pooled keep-alive HostClient per backend), for every
//     request the lane does not take; the connection moves there for good,
//     with the bytes the lane had read. net/http/httputil.ReverseProxy with
//     a tuned transport reaches about 0.35x nginx here.
//
// What the general path keeps correct (the lane keeps the same headers,
// streaming and retry rules for what it takes):
//   - Response bodies are always streamed (HostClient.StreamResponseBody):
//     Server-Sent Events and chunked downloads reach the client chunk by
//     chunk, and the backend stays "in use" (for least_conn and idle
//     scale-to-zero) until the body has been written.
//   - Request bodies above 4 MiB are streamed to the backend (the server's
//     StreamRequestBody); smaller ones are buffered, which lets a failed
//     idempotent request be retried on another backend.
//   - Upgrade requests (WebSocket) hijack the client connection and become
//     a raw byte pipe to the backend, which answers the handshake itself.
//   - X-Forwarded-For (appended), X-Forwarded-Proto, X-Forwarded-Host and
//     RFC 7239 Forwarded (appended) are set; hop-by-hop headers dropped.
//   - Every proxied request carries X-Warren-Hops with the gateway's ID; a
//     request that already carries it is a routing loop and gets 508 Loop
//     Detected at once.
//   - A request is retried on another backend only when that is safe: the
//     backend could not be reached at all (nothing was sent), or the method
//     is idempotent and the body was buffered.
//
// Concurrency: Proxy's handler is safe for concurrent use; SetPool swaps the
// backends of a live listener atomically (reload without dropping
// connections). Shutdown waits for every hijacked connection it owns.
package httpproxy
