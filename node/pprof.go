package node

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's profiler endpoints (/debug/pprof/...) on addr, for
// measuring a node under load. It is off unless --pprof is given; bind it
// to a loopback address.
func (n *Node) startPprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	n.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		if err := n.pprofSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Warn("pprof server stopped", "error", err)
		}
	}()
	n.logger.Info("profiling endpoints enabled", "addr", ln.Addr().String())
	return nil
}
