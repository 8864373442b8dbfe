package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/seatd/seatd/httpapi"
	"github.com/seatd/seatd/transport"
)

// httpNode adapts the node to what its HTTP port needs.
type httpNode struct{ n *Node }

func (h httpNode) Status() httpapi.Status {
	st := h.n.rep.Status()
	out := httpapi.Status{
		ID: h.n.cfg.ID, State: st.State, Term: st.Term, LeaderID: st.LeaderID,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Peers: []httpapi.Peer{},
	}
	for _, m := range st.Members {
		suffrage := "nonvoter"
		if m.Voter {
			suffrage = "voter"
		}
		out.Peers = append(out.Peers, httpapi.Peer{ID: m.ID, Address: m.Address, Suffrage: suffrage})
	}
	return out
}

func (h httpNode) Ready() error { return h.n.rep.Ready() }

// startHTTP listens on --http and serves the node's HTTP port. With TLS on
// the client port the HTTP port takes the same settings: the same
// certificate, and client certificates from the same CA when those are
// required (docs/security.md).
func (n *Node) startHTTP() error {
	ln, err := net.Listen("tcp", n.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen on http address: %w", err)
	}
	if n.cfg.TLSCert != "" {
		serverTLS, err := transport.ServerTLS(n.cfg.TLSCert, n.cfg.TLSKey, n.cfg.TLSClientCA)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		ln = tls.NewListener(ln, serverTLS)
	}
	n.httpLn = ln
	n.httpSrv = httpapi.New(httpapi.Config{Node: httpNode{n}, State: n.rep.FSM(), Registry: n.metrics.Registry})
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		if err := n.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("http port stopped", "error", err)
		}
	}()
	return nil
}

// HTTPAddr returns the address the HTTP port listens on ("" without --http).
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}
