/** Prometheus metrics, on a registry of this node's own (never the global one). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * prom-client's default metrics (CPU, memory, GC, event-loop delay) on a registry of their own.
 * They are the process's, and they start a GC observer and an event-loop histogram that nothing
 * stops: a process that builds many nodes (the tests) makes them once and hands them to each.
 */
export function createProcessMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'duet_process_' });
  return registry;
}

/** `processMetrics`: the process's default metrics, served beside the node's (made here when not given). */
export function createMetrics(processMetrics: Registry = createProcessMetrics()) {
  const own = new Registry();
  const metrics = {
    sockets: new Gauge({ name: 'duet_sockets', help: 'Connected Socket.IO clients on this node', registers: [own] }),
    rooms: new Gauge({ name: 'duet_rooms', help: 'Interviews loaded on this node', registers: [own] }),
    docUpdates: new Counter({
      name: 'duet_doc_updates_total',
      help: 'Yjs updates accepted (rate() gives updates/s)',
      labelNames: ['doc'] as const,
      registers: [own],
    }),
    events: new Counter({
      name: 'duet_events_logged_total',
      help: 'Events appended to the event log',
      labelNames: ['type'] as const,
      registers: [own],
    }),
    storeWrite: new Histogram({
      name: 'duet_store_write_seconds',
      help: 'Latency of one event-log commit (a group of events)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [own],
    }),
    runs: new Counter({
      name: 'duet_runs_total',
      help: 'Code runs finished on this node, by how they ended (exit, timeout, cpu, stopped, truncated, failed)',
      labelNames: ['outcome'] as const,
      registers: [own],
    }),
    clientEvents: new Counter({
      name: 'duet_client_events_total',
      help: 'Events received from clients, by name (unknown names as "unknown"), refused ones included',
      labelNames: ['event'] as const,
      registers: [own],
    }),
    errors: new Counter({
      name: 'duet_errors_total',
      help: 'Errors answered to clients, by code',
      labelNames: ['code'] as const,
      registers: [own],
    }),
  };
  return { ...metrics, registry: Registry.merge([own, processMetrics]) };
}

export type Metrics = ReturnType<typeof createMetrics>;
