// Package cluster is the node-to-node control plane of seatd: it carries
// client requests from a follower to the leader and the leader's answers back.
//
// A follower that receives a write (or a read that must be linearizable)
// hands it to a Forwarder, which keeps one persistent connection to the
// leader's node-to-node (--raft) address (ForwarderConfig.Conns makes it more)
// and pipelines many requests on it: requests are written as protocol lines,
// answers come back in the same order.
// The leader serves those connections through the Handler it is given and
// never forwards again, so a request makes at most one hop.
//
// It also serves and asks the formats service (formats.go): which log format
// versions a node applies, which a leader needs to know before it raises the
// cluster's format; and the membership service (membership.go: joins,
// removals, status, backups, and each node's clock, which ClockWatch in
// clock.go compares across members).
//
// The package knows the line protocol only as bytes; what a request means is
// the node's business.
package cluster
