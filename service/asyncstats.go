package service

import (
	"context"
	"sync"
	"sync/atomic"

	"voxgate"
)

// asyncCounters count what this process's asynchronous workers did, for
// metrics: plain counters, so that the service needs no metrics library
// (package httpapi exports them to Prometheus).
type asyncCounters struct {
	attempts, failures, deadLetters atomic.Int64

	mu        sync.Mutex
	decisions map[DecisionKey]int64
}

// DecisionKey labels a verification decision.
type DecisionKey struct{ Decision, Reason string }

func (c *asyncCounters) decided(decision, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decisions == nil {
		c.decisions = map[DecisionKey]int64{}
	}
	c.decisions[DecisionKey{decision, reason}]++
}

// AsyncStats is the asynchronous path at one moment: the shared queue's
// backlog, and this process's counts since it started.
type AsyncStats struct {
	// Queue is the backlog over all tenants; QueueKnown is false when the
	// store cannot report it.
	Queue      voxgate.QueueStats
	QueueKnown bool
	// DeliveryAttempts counts webhook requests made, DeliveryFailures
	// those that failed (dead letters included), DeadLetters deliveries
	// given up on after their retry window.
	DeliveryAttempts, DeliveryFailures, DeadLetters int64
	// Decisions counts asynchronous verifications by decision and reason.
	Decisions map[DecisionKey]int64
}

// AsyncStats reports the backlog and this process's counters. It is for
// the operator's monitoring (no actor: it names no tenant).
func (s *Service) AsyncStats(ctx context.Context) (AsyncStats, error) {
	c := &s.async
	st := AsyncStats{
		DeliveryAttempts: c.attempts.Load(), DeliveryFailures: c.failures.Load(), DeadLetters: c.deadLetters.Load(),
		Decisions: map[DecisionKey]int64{},
	}
	c.mu.Lock()
	for k, v := range c.decisions {
		st.Decisions[k] = v
	}
	c.mu.Unlock()
	if s.monitor != nil {
		q, err := s.monitor.QueueStats(ctx)
		if err != nil {
			return st, err
		}
		st.Queue, st.QueueKnown = q, true
	}
	return st, nil
}
