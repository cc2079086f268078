/**
 * The one wrapper around every inbound event: rate limit, parse with the
 * event's zod schema, run, and turn any failure into an error code (in the ack
 * when there is one, else an `error` event). Internal error text never reaches
 * the client.
 */
import type { z } from 'zod';
import { DuetError, type ErrorBody } from '../../shared/errors.js';
import type { ServerContext } from '../context.js';
import type { DuetSocket } from './socket-data.js';
import type { TokenBucket } from './token-bucket.js';

export function toErrorBody(err: unknown, ctx: ServerContext): ErrorBody {
  if (err instanceof DuetError) return err.toBody();
  ctx.log.error({ err }, 'unexpected error in event handler');
  return new DuetError('internal', 'internal error').toBody();
}

/** zod issues -> our codes: a size limit is `too_large`, anything else `invalid_payload`. */
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
    // An out-of-range number is just invalid; too much text or data is too large.
    (i) => (i.code === 'too_big' && i.origin !== 'number') || (i.code === 'custom' && (i.params as { tooLarge?: boolean } | undefined)?.tooLarge),
  );
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  // Bounded: zod lists every unknown key, and a client picks how many there are.
  const message = `${where}${issue?.message ?? 'invalid payload'}`;
  throw new DuetError(tooLarge ? 'too_large' : 'invalid_payload', message.length > 200 ? `${message.slice(0, 200)}…` : message);
}

type Ack = (reply: unknown) => void;

export function registerHandler<S extends z.ZodType>(
  ctx: ServerContext,
  socket: DuetSocket,
  bucket: TokenBucket,
  event: string,
  schema: S,
  handler: (payload: z.output<S>) => Promise<unknown>,
): void {
  socket.on(event as never, (async (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    try {
      if (!bucket.take()) throw new DuetError('rate_limited', 'too many events; slow down');
      const payload = parseOrThrow(schema, args[0]);
      const result = await handler(payload);
      ack?.(result ?? { ok: true });
    } catch (err) {
      const body = toErrorBody(err, ctx);
      ctx.metrics.errors.inc({ code: body.error.code });
      if (ack) ack(body);
      else socket.emit('error', body.error);
    }
  }) as never);
}
