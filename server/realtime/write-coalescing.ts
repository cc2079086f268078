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
  transport?: { name: string; socket?: { _socket?: NetSocket } };
}

interface EngineServer {
  on(event: 'connection', fn: (conn: EngineConn) => void): void;
}

export function coalesceWrites(engine: EngineServer): void {
  engine.on('connection', (conn) => {
    const flushNow = conn.flush.bind(conn);
    let scheduled = false;
    const flushCorked = () => {
      scheduled = false;
      // ws keeps the TCP socket as `_socket`; long-polling has nothing to cork.
      const tcp = conn.transport?.name === 'websocket' ? conn.transport.socket?._socket : undefined;
      if (!tcp || tcp.destroyed) return flushNow();
      tcp.cork();
      try {
        flushNow();
      } finally {
        tcp.uncork();
      }
    };
    conn.flush = () => {
      if (scheduled) return;
      scheduled = true;
      process.nextTick(flushCorked);
    };
  });
}
