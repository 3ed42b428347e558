package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warren-mesh/warren/internal/testutil"
)

func scrape(t *testing.T, s *Set) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	return string(b)
}

func TestSetRecordsAndServes(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	s := New(Options{})
	s.Request("8080", "app", 200, 3*time.Millisecond)
	s.Request("8080", "app", 200, 2*time.Millisecond)
	s.Request("8080", "app", 502, time.Millisecond)
	s.Request("2222", "ssh", 0, time.Second)
	s.BackendEvent("8080", "app", EventStart)
	s.BackendEvent("8080", "app", EventReady)
	s.BackendEvent("8080", "app", EventExit)
	s.BackendEvent("8080", "app", EventStart)
	s.BackendEvent("8080", "app", EventStartFailed)
	s.Conn("8080", 1)
	s.Conn("8080", 1)
	s.Conn("8080", -1)
	out := scrape(t, s)
	for _, want := range []string{
		`warren_gateway_requests_total{backend="app",code="200",route="8080"} 2`,
		`warren_gateway_requests_total{backend="app",code="502",route="8080"} 1`,
		`warren_gateway_requests_total{backend="ssh",code="conn",route="2222"} 1`,
		`warren_gateway_request_duration_seconds_count{backend="app",route="8080"} 3`,
		`warren_gateway_request_duration_seconds_bucket{backend="app",route="8080",le="0.0025"} 2`,
		`warren_gateway_cold_starts_total{backend="app",route="8080"} 2`,
		`warren_gateway_restarts_total{backend="app",route="8080"} 1`,
		`warren_gateway_start_failures_total{backend="app",route="8080"} 1`,
		`warren_gateway_backend_events_total{backend="app",event="exit",route="8080"} 1`,
		`warren_gateway_active_connections{route="8080"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	s.Forget("8080")
	out = scrape(t, s)
	if strings.Contains(out, `route="8080"`) || !strings.Contains(out, `route="2222"`) {
		t.Fatalf("Forget: %s", out)
	}
}

func TestPrivateRegistry(t *testing.T) {
	a, b := New(Options{NoRuntime: true}), New(Options{NoRuntime: true})
	a.Request("1", "x", 200, time.Millisecond)
	if strings.Contains(scrape(t, b), "requests_total{") {
		t.Fatal("two Sets share series")
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), Namespace) {
			t.Fatalf("%s registered on the global registry", mf.GetName())
		}
	}
	_ = http.StatusOK
}
