package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/httpapi"
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

// peerStatusTimeout bounds asking one member for its status for the page.
const peerStatusTimeout = 500 * time.Millisecond

func (h httpNode) Cluster() []httpapi.Member {
	st := h.n.rep.Status()
	self := httpapi.Member{ID: h.n.cfg.ID, State: st.State, Term: st.Term, LeaderID: st.LeaderID, AppliedIndex: st.AppliedIndex}
	out := []httpapi.Member{self}
	others := make([]httpapi.Member, 0, len(st.Members))
	var addrs []string
	for _, m := range st.Members {
		if m.ID != h.n.cfg.ID {
			others = append(others, httpapi.Member{ID: m.ID, State: "unreachable"})
			addrs = append(addrs, m.Address)
		}
	}
	var wg sync.WaitGroup
	for i := range others {
		wg.Go(func() {
			if ps, err := cluster.PeerStatus(h.n.dialer, addrs[i], peerStatusTimeout); err == nil {
				others[i] = httpapi.Member{ID: others[i].ID, State: ps.State, Term: ps.Term, LeaderID: ps.LeaderID, AppliedIndex: ps.AppliedIndex}
			}
		})
	}
	wg.Wait()
	return append(out, others...)
}

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
		serverTLS, err := n.serverTLS()
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
