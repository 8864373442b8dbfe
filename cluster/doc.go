// Package cluster is the node-to-node control plane of seatd: it carries
// client requests from a follower to the leader and the leader's answers back.
//
// A follower that receives a write (or a read that must be linearizable)
// hands it to a Forwarder, which keeps a few persistent connections to the
// leader's node-to-node (--raft) address and pipelines many requests on each:
// requests are written as protocol lines, answers come back in the same order.
// The leader serves those connections through the Handler it is given and
// never forwards again, so a request makes at most one hop.
//
// The package knows the line protocol only as bytes; what a request means is
// the node's business.
package cluster
