/**
 * A store failure that is the database out of reach rather than a bug: the
 * server down or restarting, a cut network, a pool that cannot open a
 * connection, a locked or full SQLite file. Callers answer those
 * `unavailable` (503, worth retrying; nothing was stored) instead of
 * `internal`, and log them as a warning, not as an unexpected error.
 */
import { DuetError } from '../../shared/errors.js';

/** Socket errors of a connection that could not be made or was lost. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * PostgreSQL's SQLSTATEs for it: class 08 (connection exception), the server
 * shutting down or starting (57P01-57P03), too many connections (53300).
 * SQLite's result codes: the file locked past busy_timeout, or unwritable.
 */
const DATABASE_CODE = /^(08...|57P0[123]|53300|SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN)\w*)$/;

/** pg and pg-pool raise these as plain Errors, known only by their text. */
const PG_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|timeout expired|Client has encountered a connection error)/;

export function isStoreUnreachable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 3) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || DATABASE_CODE.test(code))) return true;
  if (PG_MESSAGE.test(err.message)) return true;
  // Node's connect with several addresses to try fails with an AggregateError of each attempt's.
  if (err instanceof AggregateError && err.errors.some((e) => isStoreUnreachable(e, depth + 1))) return true;
  return isStoreUnreachable(err.cause, depth + 1);
}

export function storeUnavailable(): DuetError {
  return new DuetError('unavailable', 'the database is unavailable; retry later');
}
