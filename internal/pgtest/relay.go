package pgtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards loopback TCP connections to target until cut, which closes
// every open connection and refuses new ones until restore.
type Relay struct {
	// Addr is the loopback address to connect to instead of target.
	Addr   string
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

// NewRelay starts a relay to target, closed when the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Addr: ln.Addr().String(), target: target}
	t.Cleanup(func() { ln.Close(); r.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *Relay) serve(c net.Conn) {
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns = append(r.conns, c, up)
	r.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// Cut closes every relayed connection and refuses new ones.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// Restore accepts connections again.
func (r *Relay) Restore() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}
