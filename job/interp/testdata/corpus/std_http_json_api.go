package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

type Req struct {
	A, B int
}

type Resp struct {
	Sum int `json:"sum"`
}

func main() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q Req
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Resp{q.A + q.B})
	})}
	go srv.Serve(ln)
	defer srv.Close()
	body, _ := json.Marshal(Req{2, 40})
	resp, err := http.Post("http://"+ln.Addr().String(), "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var out Resp
	json.NewDecoder(resp.Body).Decode(&out)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), out.Sum)
}

// Output:
// 200 application/json 42
