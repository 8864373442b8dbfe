// Package transport moves bytes between nodes; it knows nothing about seats.
//
// Every node listens on one node-to-node port (--raft). The first byte a
// dialer writes on a new connection names the service it wants (the Header*
// constants): Raft's own traffic, request forwarding, the inspect report, the
// formats service or the membership service. Mux reads that byte and hands
// the connection to the listener registered for it, so all of them share one
// port and a follower only ever needs the leader's Raft address.
//
// StreamLayer adapts the mux to hashicorp/raft's NetworkTransport; Dialer
// opens connections to a given service on another node.
package transport
