/**
 * Slow consumers. Socket.IO queues whatever a socket is sent until the client
 * reads it, with no bound: a client that stops reading (a stalled laptop, or
 * on purpose) while others type would make the node hold every broadcast for
 * it. Each socket's unsent output (engine.io's write buffer plus the
 * WebSocket's buffered bytes) is counted as packets are queued; past
 * `maxBytes` its transport is cut. socket.io-client then reconnects and
 * resyncs, so the client loses nothing it would have read.
 */
import type { Logger } from 'pino';
import type { DuetIO } from '../context.js';
import type { Metrics } from '../metrics.js';
import type { DuetSocket } from '../realtime/socket-data.js';

interface EnginePacket {
  data?: unknown;
}

/** The parts of engine.io's Socket this reads (public fields, loosely typed upstream). */
interface EngineConn {
  on(event: 'packetCreate', fn: (packet: EnginePacket) => void): void;
  on(event: 'flush', fn: () => void): void;
  transport: { name: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

export function registerBackpressureGuard(io: DuetIO, maxBytes: number, metrics: Metrics, log: Logger): void {
  io.on('connection', (socket: DuetSocket) => {
    const conn = socket.conn as unknown as EngineConn;
    // Bytes in engine.io's write buffer: grows per packet, emptied on each flush to the transport.
    let queued = 0;
    let cut = false;
    const inTransport = () => (conn.transport.name === 'websocket' ? (conn.transport.socket?.bufferedAmount ?? 0) : 0);
    conn.on('flush', () => {
      queued = 0;
    });
    conn.on('packetCreate', (packet) => {
      queued += sizeOf(packet.data);
      if (cut || queued + inTransport() <= maxBytes) return;
      cut = true;
      metrics.errors.inc({ code: 'slow_consumer' });
      log.warn({ interviewId: socket.data.interviewId, sub: socket.data.actor?.sub, bytes: queued + inTransport() }, 'dropping a socket that does not read');
      // Not a Socket.IO disconnect (that packet would queue behind the rest, and
      // tells the client not to reconnect): drop the transport and its buffers now.
      conn.close(true);
      conn.transport.socket?.terminate?.();
    });
  });
}
