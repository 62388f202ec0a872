package raftnode

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/redraft/redraft/fsm"
)

// stateMachine adapts an fsm.Machine to raft and tracks the applied index.
//
// Raft calls ApplyBatch, Apply, Snapshot and Restore from one goroutine;
// Persist runs concurrently with later applies (the fsm snapshot is a
// point-in-time copy). applied and waitApplied may be called from any
// goroutine.
type stateMachine struct {
	m      *fsm.Machine
	logger *slog.Logger

	mu          sync.Mutex
	applied     uint64        // index of the last entry handed to the machine (or restored)
	appliedTerm uint64        // its term
	advanced    chan struct{} // closed when applied moves; nil while nobody waits

	restores atomic.Uint64 // snapshots restored, for tests and stats
}

var _ raft.BatchingFSM = (*stateMachine)(nil)

// ApplyBatch applies committed entries in order. LogCommand entries hold a
// pb.Entry and yield its []fsm.Reply; LogConfiguration entries only advance
// the applied index. An undecodable command entry panics in the machine:
// skipping it would let replicas diverge.
func (s *stateMachine) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = s.m.ApplyEntry(l.Data)
		}
	}
	if n := len(logs); n > 0 {
		s.advance(logs[n-1].Index, logs[n-1].Term)
	}
	return out
}

// Apply applies one entry; raft uses ApplyBatch, Apply completes raft.FSM.
func (s *stateMachine) Apply(l *raft.Log) any { return s.ApplyBatch([]*raft.Log{l})[0] }

func (s *stateMachine) advance(index, term uint64) {
	s.mu.Lock()
	s.applied, s.appliedTerm = index, term
	if s.advanced != nil {
		close(s.advanced)
		s.advanced = nil
	}
	s.mu.Unlock()
}

// appliedCh returns the applied index and a channel closed when it next
// moves.
func (s *stateMachine) appliedCh() (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.advanced == nil {
		s.advanced = make(chan struct{})
	}
	return s.applied, s.advanced
}

// appliedIndex returns the index and term of the last applied entry.
func (s *stateMachine) appliedIndex() (index, term uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied, s.appliedTerm
}

// waitApplied blocks until the applied index reaches index, ctx ends
// (ctx.Err()) or stop is closed (ErrShutdown).
func (s *stateMachine) waitApplied(ctx context.Context, index uint64, stop <-chan struct{}) error {
	for {
		s.mu.Lock()
		if s.applied >= index {
			s.mu.Unlock()
			return nil
		}
		if s.advanced == nil {
			s.advanced = make(chan struct{})
		}
		ch := s.advanced
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrShutdown
		}
	}
}

// The snapshot stream is a header followed by the fsm's own format:
//
//	magic "RDRS" | version uint32 | applied index uint64 | applied term uint64
//	| CRC-32C of the preceding 24 bytes (uint32), all big-endian.
//
// The raft file snapshot store checksums the whole file besides.
const (
	snapMagic      = "RDRS"
	snapVersion    = 1
	snapHeaderSize = 28
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeSnapHeader(index, term uint64) []byte {
	b := make([]byte, snapHeaderSize)
	copy(b, snapMagic)
	binary.BigEndian.PutUint32(b[4:], snapVersion)
	binary.BigEndian.PutUint64(b[8:], index)
	binary.BigEndian.PutUint64(b[16:], term)
	binary.BigEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

func decodeSnapHeader(b []byte) (index, term uint64, err error) {
	if len(b) != snapHeaderSize {
		return 0, 0, fmt.Errorf("raftnode: snapshot header: %d bytes, want %d", len(b), snapHeaderSize)
	}
	if string(b[:4]) != snapMagic {
		return 0, 0, fmt.Errorf("raftnode: snapshot header: bad magic %q", b[:4])
	}
	if got, want := binary.BigEndian.Uint32(b[24:]), crc32.Checksum(b[:24], castagnoli); got != want {
		return 0, 0, fmt.Errorf("raftnode: snapshot header: checksum %08x, want %08x", got, want)
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != snapVersion {
		return 0, 0, fmt.Errorf("raftnode: snapshot header: unsupported version %d", v)
	}
	return binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:]), nil
}

// Snapshot takes the machine's point-in-time copy; it is cheap, the writing
// happens in Persist.
func (s *stateMachine) Snapshot() (raft.FSMSnapshot, error) {
	index, term := s.appliedIndex()
	return &fsmSnapshot{snap: s.m.Snapshot(), index: index, term: term, logger: s.logger}, nil
}

// Restore replaces the machine's state with a snapshot's and sets the
// applied index from its header. On error the machine keeps its state.
func (s *stateMachine) Restore(rc io.ReadCloser) error {
	start := time.Now()
	br := bufio.NewReaderSize(rc, 64<<10)
	hdr := make([]byte, snapHeaderSize)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("raftnode: snapshot header: %w", err)
	}
	index, term, err := decodeSnapHeader(hdr)
	if err != nil {
		return err
	}
	if err := s.m.Restore(br); err != nil {
		return fmt.Errorf("raftnode: restore snapshot at index %d: %w", index, err)
	}
	s.advance(index, term)
	s.restores.Add(1)
	s.logger.Info("raftnode: snapshot restored", "index", index, "term", term,
		"keys", s.m.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

type fsmSnapshot struct {
	snap        *fsm.Snapshot
	index, term uint64
	logger      *slog.Logger
}

// Persist writes the header and the fsm snapshot to sink; it runs while
// later entries are applied.
func (f *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	bw := bufio.NewWriterSize(sink, 64<<10)
	_, err := bw.Write(encodeSnapHeader(f.index, f.term))
	var n int64
	if err == nil {
		n, err = f.snap.WriteTo(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = sink.Cancel()
		f.logger.Error("raftnode: writing snapshot failed", "index", f.index, "error", err)
		return err
	}
	if err := sink.Close(); err != nil {
		f.logger.Error("raftnode: closing snapshot failed", "index", f.index, "error", err)
		return err
	}
	f.logger.Info("raftnode: snapshot persisted", "index", f.index, "term", f.term,
		"bytes", n+snapHeaderSize, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (f *fsmSnapshot) Release() { f.snap.Release() }

// errBadReplies means the state machine answered an entry with the wrong
// number of replies, which would be a bug.
var errBadReplies = errors.New("raftnode: state machine replies do not match the entry")
