/**
 * One socket write per burst instead of one per frame. A Socket.IO event
 * with binary data (every `doc:update` and `awareness:update`) is two
 * engine.io packets, so two WebSocket frames; engine.io sends the first at
 * once and the second only after the first write's callback, a separate
 * syscall each. On loopback and under load those writes were the largest
 * share of a node's CPU (`docs/performance.md`). Here each connection's
 * flush waits for the end of the current tick, so everything queued for it
 * meanwhile goes to the transport together, and the TCP socket is corked
 * around that so the frames leave in one writev. The frames on the wire are
 * exactly the same; only how many syscalls carry them changes.
 */
import type { Socket as NetSocket } from 'node:net';

/** The parts of engine.io's Socket this touches (public fields, loosely typed upstream). */
interface EngineConn {
  flush(): void;
  close(discard?: boolean): void;
  transport?: { name: string; socket?: { _socket?: NetSocket } };
}

interface EngineServer {
  on(event: 'connection', fn: (conn: EngineConn) => void): void;
}

export function coalesceWrites(engine: EngineServer): void {
  // Connections with a flush due at the end of this tick. Per node, and no
  // closure per connection: every connection shares `deferredFlush`.
  let due = new Set<EngineConn>();
  const flushDue = () => {
    const batch = due;
    due = new Set();
    for (const conn of batch) flushCorked(conn);
  };
  function deferredFlush(this: EngineConn): void {
    if (due.size === 0) process.nextTick(flushDue);
    due.add(this);
  }
  // A close that discards the transport (server shutdown) must not lose what
  // was queued this tick, such as the shutdown notice: flush it first.
  function closeAfterFlush(this: EngineConn, discard?: boolean): void {
    if (due.delete(this)) flushCorked(this);
    (Object.getPrototypeOf(this) as EngineConn).close.call(this, discard);
  }
  engine.on('connection', (conn) => {
    conn.flush = deferredFlush;
    conn.close = closeAfterFlush;
  });
}

function flushCorked(conn: EngineConn): void {
  const flushNow = (Object.getPrototypeOf(conn) as EngineConn).flush;
  // ws keeps the TCP socket as `_socket`; long-polling has nothing to cork.
  const tcp = conn.transport?.name === 'websocket' ? conn.transport.socket?._socket : undefined;
  if (!tcp || tcp.destroyed) return flushNow.call(conn);
  tcp.cork();
  try {
    flushNow.call(conn);
  } finally {
    tcp.uncork();
  }
}
