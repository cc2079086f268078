/**
 * The one path of every inbound event: known event, rate limit, parse with
 * the event's zod schema, run, and turn any failure into an error code (in the
 * ack when there is one, else an `error` event). Internal error text never
 * reaches the client.
 */
import type { z } from 'zod';
import { DuetError, type ErrorBody } from '../../shared/errors.js';
import { CLIENT_EVENTS } from '../../shared/protocol.js';
import type { ServerContext } from '../context.js';
import { outageError } from '../store/unreachable.js';
import type { DuetSocket } from './socket-data.js';

export function toErrorBody(err: unknown, ctx: ServerContext): ErrorBody {
  if (err instanceof DuetError) return err.toBody();
  const outage = outageError(err, ctx.log);
  if (outage) return outage.toBody();
  ctx.log.error({ err }, 'unexpected error in event handler');
  return new DuetError('internal', 'internal error').toBody();
}

/** A refused handshake, for a middleware's next(): socket.io-client exposes `data` on connect_error. */
export function handshakeRefusal(err: DuetError): Error {
  return Object.assign(new Error(err.message), { data: err.toBody().error });
}

/** zod issues -> our codes: a size limit is `too_large`, anything else `invalid_payload`. */
/** zod's origins of a too-big value, not a too-big size ("int" is a number past the safe integers). */
const VALUE_ORIGINS = new Set<string>(['number', 'int', 'bigint', 'date']);

export function parseOrThrow<S extends z.ZodType>(schema: S, payload: unknown): z.output<S> {
  // No payload is binary at its top level, and zod would walk every index of a
  // typed array looking for unknown keys: over a second of CPU for 1 MB (found by fuzzing).
  if (ArrayBuffer.isView(payload) || payload instanceof ArrayBuffer) {
    throw new DuetError('invalid_payload', 'expected an object, got binary data');
  }
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const tooLarge = parsed.error.issues.some(
    // An out-of-range number (or date) is just invalid; too much text or data is too large.
    (i) => (i.code === 'too_big' && !VALUE_ORIGINS.has(i.origin)) || (i.code === 'custom' && (i.params as { tooLarge?: boolean } | undefined)?.tooLarge),
  );
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  // Bounded: zod lists every unknown key, and a client picks how many there are.
  const message = `${where}${issue?.message ?? 'invalid payload'}`;
  throw new DuetError(tooLarge ? 'too_large' : 'invalid_payload', message.length > 200 ? `${message.slice(0, 200)}…` : message);
}

type Ack = (reply: unknown) => void;

/** What the node does with one client event: its payload schema and the work. */
export interface Handler {
  schema: z.ZodType;
  run(socket: DuetSocket, payload: unknown): Promise<unknown>;
}

/** Handlers by client event name. */
export type Handlers = Partial<Record<(typeof CLIENT_EVENTS)[number], Handler>>;

export function handler<S extends z.ZodType>(schema: S, run: (socket: DuetSocket, payload: z.output<S>) => Promise<unknown>): Handler {
  return { schema, run: run as Handler['run'] };
}

/**
 * The one listener every socket of the node shares (`socket.onAny`, which
 * calls it with the socket as `this`). Per-socket closures for each event
 * cost about 3 KiB of heap per socket; the state a handler needs lives in
 * `socket.data` instead. `waitFor` says what an event must wait for, once
 * checked, before it runs (undefined: nothing).
 */
export function createDispatcher(ctx: ServerContext, handlers: Handlers, waitFor: (socket: DuetSocket, event: string) => Promise<void> | undefined = () => undefined) {
  const missing = CLIENT_EVENTS.filter((e) => !handlers[e]);
  if (missing.length > 0) throw new Error(`no handler for client events: ${missing.join(', ')}`);
  return function dispatch(this: DuetSocket, event: string, ...args: unknown[]): void {
    // Socket.IO's own listeners skip packets decoded after a disconnect; onAny does not.
    if (!this.connected) return;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const h = Object.hasOwn(handlers, event) ? handlers[event as keyof Handlers] : undefined;
    void run(this, h, event, args[0], ack);
  };

  async function run(socket: DuetSocket, h: Handler | undefined, event: string, payload: unknown, ack: Ack | undefined): Promise<void> {
    try {
      // A client names its events: only known names become labels.
      ctx.metrics.clientEvents.inc({ event: h ? event : 'unknown' });
      if (!h) throw new DuetError('unknown_event', `the server does not accept "${String(event).slice(0, 50)}" from clients`);
      if (!socket.data.bucket.take()) throw new DuetError('rate_limited', 'too many events; slow down');
      const parsed = parseOrThrow(h.schema, payload);
      const gate = waitFor(socket, event);
      if (gate) {
        await gate;
        // Left while it waited: its leave may be logged already, and nothing comes after a leave.
        if (socket.disconnected) throw new DuetError('unavailable', 'the connection closed');
      }
      const result = await h.run(socket, parsed);
      ack?.(result ?? { ok: true });
    } catch (err) {
      const body = toErrorBody(err, ctx);
      ctx.metrics.errors.inc({ code: body.error.code });
      if (ack) ack(body);
      else socket.emit('error', body.error);
    }
  }
}
