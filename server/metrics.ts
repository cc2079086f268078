/** Prometheus metrics, on a registry of this node's own (never the global one). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'duet_process_' });
  return {
    registry,
    sockets: new Gauge({ name: 'duet_sockets', help: 'Connected Socket.IO clients on this node', registers: [registry] }),
    rooms: new Gauge({ name: 'duet_rooms', help: 'Interviews loaded on this node', registers: [registry] }),
    docUpdates: new Counter({
      name: 'duet_doc_updates_total',
      help: 'Yjs updates accepted (rate() gives updates/s)',
      labelNames: ['doc'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'duet_events_logged_total',
      help: 'Events appended to the event log',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    storeWrite: new Histogram({
      name: 'duet_store_write_seconds',
      help: 'Latency of one event-log commit (a group of events)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    runs: new Counter({
      name: 'duet_runs_total',
      help: 'Code runs finished on this node, by how they ended (exit, timeout, cpu, stopped, truncated, failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    clientEvents: new Counter({
      name: 'duet_client_events_total',
      help: 'Events received from clients, by name (unknown names as "unknown"), refused ones included',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'duet_errors_total',
      help: 'Errors answered to clients, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
