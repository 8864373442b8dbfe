// Package transport moves bytes between nodes; it knows nothing about seats.
//
// Every node listens on one node-to-node port (--raft). The first byte a
// dialer writes on a new connection names the service it wants: Raft's own
// traffic or request forwarding. Mux reads that byte and hands the connection
// to the listener registered for it, so Raft and forwarding share one port
// and a follower only ever needs the leader's Raft address.
//
// StreamLayer adapts the mux to hashicorp/raft's NetworkTransport; Dialer
// opens connections to a given service on another node.
package transport
