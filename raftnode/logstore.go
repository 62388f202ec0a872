package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Log stores (Config.LogStore).
const (
	// LogStoreBolt keeps a group's log and stable store in Dir/raft.db,
	// synced on its own (two fsyncs per append).
	LogStoreBolt = "bolt"
	// LogStoreWAL keeps them in the node-wide Config.WAL, which commits the
	// appends of every group of the node with one fsync.
	LogStoreWAL = "wal"
)

const (
	boltFile = "raft.db"
	// walMarker in a group's Dir says that the group's log lives in the
	// node's WAL. A Dir without it (new, or wiped) means whatever the WAL
	// holds of the group is stale: it is dropped, and the group starts
	// again from nothing, as with a wiped raft.db.
	walMarker = "wal-log"
)

// groupStore is a group's raft log and stable store.
type groupStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// openLogStore opens the store cfg.LogStore names. logs is what raft
// appends to: the store itself, or a cache in front of it. Switching an
// existing group from one store to the other is refused: its log would be
// silently left behind.
func openLogStore(cfg Config, logger *slog.Logger) (store groupStore, logs raft.LogStore, err error) {
	boltPath := filepath.Join(cfg.Dir, boltFile)
	markerPath := filepath.Join(cfg.Dir, walMarker)
	if cfg.LogStore != LogStoreWAL {
		if exists(markerPath) {
			return nil, nil, fmt.Errorf("raftnode: group %s: its log is in the node's WAL (%s exists); "+
				"LogStore %q cannot read it", cfg.GroupID, markerPath, LogStoreBolt)
		}
		bs, err := raftboltdb.New(raftboltdb.Options{
			Path:        boltPath,
			BoltOptions: &bbolt.Options{Timeout: time.Second},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("raftnode: open %s: %w", boltPath, err)
		}
		cache, err := raft.NewLogCache(logCacheSize, bs)
		if err != nil {
			bs.Close()
			return nil, nil, fmt.Errorf("raftnode: log cache: %w", err)
		}
		return bs, cache, nil
	}

	if exists(boltPath) {
		return nil, nil, fmt.Errorf("raftnode: group %s: its log is in %s; LogStore %q cannot read it",
			cfg.GroupID, boltPath, LogStoreWAL)
	}
	known := slices.Contains(cfg.WAL.Groups(), cfg.GroupID)
	if exists(markerPath) && !known {
		// The group was opened with a WAL before, and it has snapshots, so
		// raft stored at least its term there: this WAL lost it, or is
		// another node's. Starting with no term and no vote could vote
		// twice in a term.
		if snaps, _ := os.ReadDir(filepath.Join(cfg.Dir, "snapshots")); len(snaps) > 0 {
			return nil, nil, fmt.Errorf("raftnode: group %s: the node's WAL holds nothing of it, but %s has snapshots: "+
				"the WAL was lost or is not this node's (wipe the group's directory to resync it from its peers)", cfg.GroupID, cfg.Dir)
		}
	}
	if !exists(markerPath) {
		if known {
			logger.Warn("raftnode: the group's directory is new; dropping what the node's WAL held of it", "dir", cfg.Dir)
			if err := cfg.WAL.Drop(cfg.GroupID); err != nil {
				return nil, nil, fmt.Errorf("raftnode: group %s: drop stale WAL state: %w", cfg.GroupID, err)
			}
		}
		if err := writeMarker(markerPath); err != nil {
			return nil, nil, fmt.Errorf("raftnode: group %s: %w", cfg.GroupID, err)
		}
	}
	ws, err := cfg.WAL.Group(cfg.GroupID)
	if err != nil {
		return nil, nil, fmt.Errorf("raftnode: group %s: %w", cfg.GroupID, err)
	}
	// The WAL keeps recent entries in memory itself: no LogCache.
	return ws, ws, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// writeMarker creates the marker file durably (file and directory entry).
func writeMarker(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString("this group's raft log and stable store are in the node's WAL\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
