/**
 * Cluster mode: a client's connection that the primary still holds for a
 * worker is answered when that worker dies, instead of waiting forever.
 *
 * @socket.io/sticky (2.0.1) keeps two kinds of connection in the primary on a
 * worker's behalf, and forgets both when the worker dies:
 * - a request with a body (Content-Length or Transfer-Encoding: every REST
 *   POST, every long-polling POST), whose bytes and answer it relays over IPC;
 * - a new connection handed over but not yet acknowledged by the worker, and
 *   those queued behind it: Node passes a worker one socket at a time and
 *   queues the rest until that one is acknowledged; when the worker dies
 *   meanwhile, Node (20) closes none of them.
 * Each such client would wait for an answer no one will send. Here they get a
 * 503 (`unavailable`, as for a node that is down), or are closed if part of an
 * answer had already gone out.
 *
 * Sticky also hands connections to a worker that is still starting when no
 * other is left (every worker died at once, or keeps dying), and one that has
 * not set up its side of sticky yet drops them unanswered. Those get the 503
 * at once instead.
 */
import type { Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { DuetError } from '../shared/errors.js';
import { isMessage } from './cluster-ipc.js';

/** Sticky's message that starts relaying a request with a body to a worker. */
const RELAY_START = 'sticky:http-chunk-start';

export interface HeldConnections {
  /** Called on each worker as it is forked: its sends from now on are watched. */
  watch(worker: Worker): void;
  /** Called once the worker has exited and its channel is read to the end: nothing more can come from it. */
  lost(worker: Worker): void;
}

/**
 * Call after sticky's setup on the same server, so its listeners come first.
 * `ready`: whether a worker takes connections (it has said it has set up its side of sticky, and its channel is open).
 */
export function heldConnections(httpServer: Server, ready: (worker: Worker) => boolean): HeldConnections {
  const held = new Map<Worker, Set<Socket>>();
  // Sticky sends for a connection from inside that connection's 'data' listener, with
  // nothing in the message (only a random id) that names the socket. Its listener is
  // the one it left after dropping all others; these run just before and after it.
  let reading: Socket | undefined;
  httpServer.on('connection', (socket: Socket) => {
    socket.prependListener('data', () => (reading = socket));
    socket.on('data', () => (reading = undefined));
  });

  const release = (worker: Worker, socket: Socket) => held.get(worker)?.delete(socket);
  const hold = (worker: Worker, socket: Socket) => {
    // Its send fails, and sticky closes the socket itself.
    if (worker.isDead()) return;
    let sockets = held.get(worker);
    if (!sockets) held.set(worker, (sockets = new Set()));
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => release(worker, socket));
  };

  return {
    watch(worker) {
      const send = worker.send.bind(worker) as (...args: unknown[]) => boolean;
      // The one place that sees which worker sticky picked for which socket.
      worker.send = ((message: unknown, ...rest: unknown[]) => {
        const [handle, options] = rest;
        const relayed = reading && isMessage(message, RELAY_START) ? reading : undefined;
        if (!ready(worker) && (handle instanceof Socket || relayed)) {
          answerUnavailable(handle instanceof Socket ? handle : relayed!, NOT_READY);
          return true;
        }
        if (handle instanceof Socket) {
          // Held here until Node has written it to the channel; from then on Node holds it until
          // the worker acknowledges it (unacknowledgedHandle, below).
          hold(worker, handle);
          const callback = rest.find((arg) => typeof arg === 'function') as ((err: Error | null) => void) | undefined;
          const written = (err: Error | null) => {
            if (!err) release(worker, handle);
            callback?.(err);
          };
          return send(message, handle, typeof options === 'object' ? options : undefined, written);
        }
        if (relayed) hold(worker, relayed);
        return send(message, ...rest);
      }) as Worker['send'];
    },
    lost(worker) {
      const sockets = held.get(worker);
      held.delete(worker);
      for (const socket of sockets ?? []) answerUnavailable(socket, LOST);
      const inFlight = unacknowledgedHandle(worker);
      // `handle` is how Node itself wraps a received connection (not in the typings).
      if (inFlight) answerUnavailable(new Socket({ handle: inFlight, writable: true } as SocketConstructorOpts), LOST);
    },
  };
}

/**
 * The connection handed over but not acknowledged when the worker died. Node
 * (20) would close it when the channel closes, but skips that step while a
 * handover is unacknowledged, and keeps it, and its client, open for good.
 * Node's own field; if a later Node names it otherwise, this finds nothing and
 * the test of this case fails.
 */
function unacknowledgedHandle(worker: Worker): object | undefined {
  const child = worker.process as unknown as { _pendingMessage?: { handle?: object } | null };
  const handle = child._pendingMessage?.handle;
  if (!handle) return undefined;
  child._pendingMessage = null;
  return handle;
}

const LOST = 'the server process handling this request stopped before it answered; whether it was carried out is unknown, retry';
const NOT_READY = 'no server process is ready to take this request yet (they are restarting); it was not carried out, retry';

function answerUnavailable(socket: Socket, message: string): void {
  // Gone, or the worker's whole answer already given (sticky ended it; the client has yet to close).
  if (socket.destroyed || socket.writableEnded) return;
  // Sticky would relay whatever else the client sends to another worker, as a request of its own.
  socket.removeAllListeners('data');
  socket.resume();
  // Part of the worker's answer already went out: a 503 now would be read as its continuation.
  if (socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(new DuetError('unavailable', message).toBody());
  socket.on('error', () => socket.destroy());
  socket.end(
    'HTTP/1.1 503 Service Unavailable\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Retry-After: 1\r\n' +
      'Connection: close\r\n' +
      '\r\n' +
      body,
  );
  // The client may never read or close its side: do not hold the socket for it.
  socket.setTimeout(5000, () => socket.destroy());
}
