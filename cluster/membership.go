package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/transport"
)

// The membership service (header byte transport.HeaderMembership) changes
// and reports the cluster's membership. Each connection carries one request
// line and gets one answer line, then closes:
//
//	JOIN <id> <raft-address>   -> OK | ERROR <text>
//	MEMBERS                    -> MEMBERS <id>,<address>,<voter|nonvoter>[,leader] ...
//	REMOVE <id> [force]        -> OK | ERROR <text>
//	APPLIED                    -> APPLIED <index>   (this node's own applied index)
//	STATUS                     -> STATUS <json>     (this node's own NodeStatus)
//	BACKUP                     -> BACKUP <index> <size> <sha256> and the bytes (backup.go)
//	CLOCK                      -> CLOCK <unix-ns>   (this node's wall clock; ClockWatch)
//
// APPLIED, STATUS and CLOCK are answered by the node asked. JOIN, MEMBERS and
// REMOVE are the leader's to answer: a follower carries
// the request to the leader it knows and relays the answer (one hop: the
// line it sends starts with "RELAYED ", which is never relayed again).
// The service runs on the node-to-node port, so with peer mutual TLS only
// holders of a node certificate reach it.

// Member is one server of the cluster's configuration.
type Member struct {
	ID      string
	Address string // node-to-node address
	Voter   bool
	Leader  bool
}

// NodeStatus is one node's own view, as the membership service's STATUS
// answers it (the live page shows every member's).
type NodeStatus struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	LeaderID     string `json:"leader_id"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

// MembershipHandler is what the membership service needs of the local
// replica.
type MembershipHandler interface {
	// NodeStatus is this node's own view (any member answers it).
	NodeStatus() NodeStatus
	// Backup copies the leader's state machine (ErrNotLeader elsewhere).
	Backup() (*Backup, error)
	// Join adds the node, first as a non-voter; it is promoted once it
	// has caught up. ErrNotLeader when this replica does not lead.
	Join(id, address string) error
	// Members returns the current configuration (from the leader's view
	// when called on the leader; ErrNotLeader otherwise).
	Members() ([]Member, error)
	// Remove removes the server; force skips the quorum check.
	Remove(id string, force bool) error
	// AppliedIndex is this replica's own applied index.
	AppliedIndex() uint64
	// LeaderAddress is the node-to-node address of the known leader, or "".
	LeaderAddress() string
}

// ErrNotLeader is returned by a MembershipHandler that does not lead.
var ErrNotLeader = errors.New("cluster: not the leader")

// ErrMembership wraps the refusal a node answered (the text after ERROR).
var ErrMembership = errors.New("membership change refused")

// membershipTimeout bounds one membership request on the leader (a join or
// removal commits a configuration entry, a replacement two) plus the relay
// hop.
const membershipTimeout = 25 * time.Second

// JoinTimeout is how long a joining node waits for one answer to JOIN.
const JoinTimeout = membershipTimeout + 5*time.Second

// ServeMembership answers every connection accepted from ln until ln
// closes, each on its own goroutine (a configuration change takes a
// commit). When ln's Accept fails, it cuts off the requests still under
// way (their connections, and the relays carrying them to the leader, are
// closed) and returns once their goroutines have ended.
func ServeMembership(ln net.Listener, h MembershipHandler, d *transport.Dialer, logger hclog.Logger) {
	// Once ln closes, requests under way are cut off: their connections,
	// and those relaying them to the leader, are closed (a relay may
	// otherwise hold a stopping node for membershipTimeout).
	stop, cancel := context.WithCancel(context.Background())
	var handlers sync.WaitGroup
	defer func() {
		cancel()
		handlers.Wait()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		handlers.Go(func() {
			defer context.AfterFunc(stop, func() { conn.Close() })()
			serveMembershipConn(stop, conn, h, d, logger)
		})
	}
}

func serveMembershipConn(stop context.Context, conn net.Conn, h MembershipHandler, d *transport.Dialer, logger hclog.Logger) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(membershipTimeout + 5*time.Second))
	line, err := bufio.NewReader(io.LimitReader(conn, 1024)).ReadString('\n')
	if err != nil {
		return
	}
	line = strings.TrimSpace(line)
	if line == "BACKUP" || line == "RELAYED BACKUP" {
		conn.SetDeadline(time.Now().Add(BackupTimeout))
		serveBackup(stop, conn, line == "RELAYED BACKUP", h, d, logger)
		return
	}
	answer := answerMembership(stop, line, h, d, logger)
	io.WriteString(conn, answer+"\n")
}

// serveBackup answers BACKUP on the leader, or carries it there once.
func serveBackup(stop context.Context, conn net.Conn, relayed bool, h MembershipHandler, d *transport.Dialer, logger hclog.Logger) {
	b, err := h.Backup()
	if errors.Is(err, ErrNotLeader) {
		if leader := h.LeaderAddress(); !relayed && leader != "" {
			if err := relayBackup(stop, d, leader, conn); err != nil {
				logger.Info("backup: relaying to the leader failed", "leader", leader, "error", err)
			}
			return
		}
		io.WriteString(conn, noLeaderAnswer+"\n")
		return
	}
	if err != nil {
		io.WriteString(conn, "ERROR "+oneLine(err.Error())+"\n")
		return
	}
	if err := answerBackup(conn, b); err != nil {
		logger.Info("backup: not sent", "remote", conn.RemoteAddr(), "error", err)
		return
	}
	logger.Info("backup taken", "index", b.Index, "bytes", len(b.State), "remote", conn.RemoteAddr())
}

func answerMembership(stop context.Context, line string, h MembershipHandler, d *transport.Dialer, logger hclog.Logger) string {
	relayed := false
	if rest, ok := strings.CutPrefix(line, "RELAYED "); ok {
		relayed, line = true, rest
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return "ERROR empty request"
	}
	var err error
	switch {
	case f[0] == "CLOCK" && len(f) == 1:
		return "CLOCK " + strconv.FormatInt(time.Now().UnixNano(), 10)
	case f[0] == "APPLIED" && len(f) == 1:
		return "APPLIED " + strconv.FormatUint(h.AppliedIndex(), 10)
	case f[0] == "STATUS" && len(f) == 1:
		b, err := json.Marshal(h.NodeStatus())
		if err != nil {
			return "ERROR " + oneLine(err.Error())
		}
		return "STATUS " + string(b)
	case f[0] == "JOIN" && len(f) == 3:
		err = h.Join(f[1], f[2])
	case f[0] == "REMOVE" && (len(f) == 2 || len(f) == 3 && f[2] == "force"):
		err = h.Remove(f[1], len(f) == 3)
	case f[0] == "MEMBERS" && len(f) == 1:
		var members []Member
		if members, err = h.Members(); err == nil {
			return membersLine(members)
		}
	default:
		return "ERROR unknown request " + strconv.Quote(line)
	}
	if errors.Is(err, ErrNotLeader) {
		leader := h.LeaderAddress()
		if relayed || leader == "" {
			return noLeaderAnswer
		}
		answer, rerr := requestLineUntil(stop, d, leader, "RELAYED "+line, membershipTimeout)
		if rerr != nil {
			return "ERROR the leader did not answer: " + oneLine(rerr.Error())
		}
		return answer
	}
	if err != nil {
		logger.Info("membership request refused", "request", line, "error", err)
		return "ERROR " + oneLine(err.Error())
	}
	if f[0] != "MEMBERS" {
		logger.Info("membership changed", "request", line)
	}
	return "OK"
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func membersLine(members []Member) string {
	var b strings.Builder
	b.WriteString("MEMBERS")
	for _, m := range members {
		suffrage := "nonvoter"
		if m.Voter {
			suffrage = "voter"
		}
		fmt.Fprintf(&b, " %s,%s,%s", m.ID, m.Address, suffrage)
		if m.Leader {
			b.WriteString(",leader")
		}
	}
	return b.String()
}

// requestLine sends one request line to the membership service at addr and
// returns the answer line (without its newline).
func requestLine(d *transport.Dialer, addr, line string, timeout time.Duration) (string, error) {
	return requestLineUntil(context.Background(), d, addr, line, timeout)
}

// requestLineUntil is requestLine, cut off when stop is done.
func requestLineUntil(stop context.Context, d *transport.Dialer, addr, line string, timeout time.Duration) (string, error) {
	conn, err := d.DialContext(stop, transport.HeaderMembership, addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	defer context.AfterFunc(stop, func() { conn.Close() })()
	return exchangeLine(conn, addr, line, timeout)
}

// exchangeLine sends line on a membership connection to addr and returns
// the answer line (without its newline), all within timeout.
func exchangeLine(conn net.Conn, addr, line string, timeout time.Duration) (string, error) {
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", fmt.Errorf("send to %s: %w", addr, err)
	}
	answer, err := bufio.NewReader(io.LimitReader(conn, 1<<20)).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("answer from %s: %w", addr, err)
	}
	return strings.TrimSuffix(answer, "\n"), nil
}

// ErrNoLeaderYet means the member asked knew no ready leader to carry the
// request to (an election, or a hand-off, is under way): ask again.
var ErrNoLeaderYet = errors.New("no leader known yet")

// noLeaderAnswer is the service's answer when it has no leader to relay to.
const noLeaderAnswer = "ERROR no leader known; retry"

// okOrError turns an OK / ERROR answer into an error.
func okOrError(answer string) error {
	if answer == "OK" {
		return nil
	}
	if answer == noLeaderAnswer {
		return ErrNoLeaderYet
	}
	if text, ok := strings.CutPrefix(answer, "ERROR "); ok {
		return fmt.Errorf("%w: %s", ErrMembership, text)
	}
	return fmt.Errorf("unexpected answer %q", answer)
}

// Join asks the node at addr (any member) to add this node, id at raftAddr,
// waiting at most timeout for the answer.
func Join(d *transport.Dialer, addr, id, raftAddr string, timeout time.Duration) error {
	answer, err := requestLine(d, addr, "JOIN "+id+" "+raftAddr, timeout)
	if err != nil {
		return err
	}
	return okOrError(answer)
}

// Remove asks the node at addr (any member) to remove the server id;
// force skips the leader's quorum check.
func Remove(d *transport.Dialer, addr, id string, force bool) error {
	line := "REMOVE " + id
	if force {
		line += " force"
	}
	answer, err := requestLine(d, addr, line, membershipTimeout+5*time.Second)
	if err != nil {
		return err
	}
	return okOrError(answer)
}

// Members asks the node at addr (any member) for the configuration.
func Members(d *transport.Dialer, addr string) ([]Member, error) {
	answer, err := requestLine(d, addr, "MEMBERS", membershipTimeout+5*time.Second)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(answer, "MEMBERS")
	if !ok {
		return nil, okOrError(answer)
	}
	var out []Member
	for _, field := range strings.Fields(rest) {
		p := strings.Split(field, ",")
		if len(p) < 3 || len(p) > 4 || (p[2] != "voter" && p[2] != "nonvoter") || (len(p) == 4 && p[3] != "leader") {
			return nil, fmt.Errorf("malformed member %q from %s", field, addr)
		}
		out = append(out, Member{ID: p[0], Address: p[1], Voter: p[2] == "voter", Leader: len(p) == 4})
	}
	return out, nil
}

// Applied asks the node at addr for its own applied index (the leader's
// catch-up check before it promotes a non-voter).
func Applied(d *transport.Dialer, addr string, timeout time.Duration) (uint64, error) {
	answer, err := requestLine(d, addr, "APPLIED", timeout)
	if err != nil {
		return 0, err
	}
	rest, ok := strings.CutPrefix(answer, "APPLIED ")
	if !ok {
		return 0, fmt.Errorf("unexpected answer %q from %s", answer, addr)
	}
	return strconv.ParseUint(rest, 10, 64)
}

// PeerStatus asks the node at addr for its own status.
func PeerStatus(d *transport.Dialer, addr string, timeout time.Duration) (NodeStatus, error) {
	var st NodeStatus
	answer, err := requestLine(d, addr, "STATUS", timeout)
	if err != nil {
		return st, err
	}
	rest, ok := strings.CutPrefix(answer, "STATUS ")
	if !ok {
		return st, fmt.Errorf("unexpected answer %q from %s", answer, addr)
	}
	if err := json.Unmarshal([]byte(rest), &st); err != nil {
		return st, fmt.Errorf("status from %s: %w", addr, err)
	}
	return st, nil
}
