package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Fill writes KeyPrefix+i for every i in [from, to) once, with a value of
// valueSize bytes, from conns clients each pipelining pipeline SETs. Failed
// writes are retried until they succeed or ctx ends. It returns how long
// it took.
func Fill(ctx context.Context, r Router, prefix string, from, to, valueSize, conns, pipeline int) (time.Duration, error) {
	start := time.Now()
	val := makeValue(valueSize, 7)
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	for range max(conns, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient(r, 10*time.Second)
			defer cl.close()
			var retry []op
			for ctx.Err() == nil {
				ops := retry
				retry = nil
				for len(ops) < pipeline {
					i := next.Add(1) - 1
					if i >= int64(to) {
						break
					}
					k := appendKey(nil, prefix, int(i))
					ops = append(ops, op{write: true, key: k, slot: Slot(k), val: val})
				}
				if len(ops) == 0 {
					return
				}
				cl.exec(ctx, ops)
				for _, o := range ops {
					if !o.ok {
						retry = append(retry, o)
					}
				}
			}
			if len(retry) > 0 {
				errc <- fmt.Errorf("loadgen: fill stopped with %d writes not done: %w", len(retry), ctx.Err())
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return time.Since(start), err
	}
	if ctx.Err() != nil && next.Load() < int64(to) {
		return time.Since(start), ctx.Err()
	}
	return time.Since(start), nil
}

// Key returns the key Fill and Run use for index i.
func Key(prefix string, i int) string { return string(appendKey(nil, prefix, i)) }

// Value returns the value Fill writes with valueSize bytes.
func Value(valueSize int) string { return string(makeValue(valueSize, 7)) }
