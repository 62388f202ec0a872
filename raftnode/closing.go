package raftnode

import "sync"

// closingStore is a group's store as raft's stable store, safe to close
// while raft may still write to it.
//
// raft.Raft.Shutdown waits for raft's own goroutines, but heartbeats are
// handled on the transport's connection goroutines, which it does not
// wait for: one that checked for shutdown just before it may still record
// a newer term after the store is closed, and raft panics when recording
// a term fails. After Close, such a write parks its goroutine for good
// instead: nothing it would record may be answered (a vote or term not on
// disk must not leave the node), and the connection it serves is closed.
type closingStore struct {
	groupStore
	mu     sync.RWMutex
	closed bool
}

var parked = make(chan struct{}) // never closed

func (s *closingStore) Set(key, val []byte) error {
	return s.write(func() error { return s.groupStore.Set(key, val) })
}

func (s *closingStore) SetUint64(key []byte, val uint64) error {
	return s.write(func() error { return s.groupStore.SetUint64(key, val) })
}

func (s *closingStore) write(f func() error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		<-parked
	}
	defer s.mu.RUnlock()
	return f()
}

// Close waits for writes in progress, then closes the store.
func (s *closingStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.groupStore.Close()
}
