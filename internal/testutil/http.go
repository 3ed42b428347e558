package testutil

import (
	"io"
	"net/http"
	"time"
)

// HTTPGet GETs url with the given header name/value pairs, without
// keep-alive (no idle connection outlives the call, so leak checks and
// process-exit checks see none), giving up after timeout. It returns the
// status code and the body.
func HTTPGet(url string, timeout time.Duration, header ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
