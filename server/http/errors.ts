/** Every HTTP failure leaves as `{error: {code, message}}` with the code's status. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DuetError } from '../../shared/errors.js';
import type { ServerContext } from '../context.js';
import { outageError } from '../store/unreachable.js';

export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new DuetError('not_found', 'no such route'));
}

export function errorHandler(ctx: ServerContext): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    let e: DuetError;
    if (err instanceof DuetError) e = err;
    else if (err?.type === 'entity.too.large') e = new DuetError('too_large', 'request body too large');
    else if (err?.type === 'entity.parse.failed' || err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') {
      e = new DuetError('invalid_payload', 'request body is not valid JSON');
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // Other client errors raised by body-parser and the router (broken gzip or
      // deflate bodies, malformed percent-encoding, ...): found by fuzzing, were 500s.
      const code = err.status === 413 ? 'too_large' : err.status === 404 ? 'not_found' : err.status === 403 ? 'forbidden' : 'invalid_payload';
      e = new DuetError(code, code === 'not_found' ? 'no such file' : 'the request could not be read');
    } else {
      e = outageError(err, ctx.log) ?? new DuetError('internal', 'internal error');
      if (e.code === 'internal') ctx.log.error({ err }, 'unhandled error in HTTP handler');
    }
    ctx.metrics.errors.inc({ code: e.code });
    res.status(e.status).json(e.toBody());
  };
}
