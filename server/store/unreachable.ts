/**
 * A store failure that is the database out of reach rather than a bug: the
 * server down, restarting or failed over, a cut network, a pool that cannot
 * open a connection, a locked or full SQLite file. Callers answer those
 * `unavailable` (503, worth retrying) instead of `internal`. A connection
 * lost during a commit may have lost it after it landed, so "retry" is safe
 * for what is idempotent (an edit) and may repeat what is not (a create).
 */
import type { Logger } from 'pino';
import { DuetError } from '../../shared/errors.js';

/** Socket errors of a connection that could not be made or was lost. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * PostgreSQL's SQLSTATEs: connection failures (08000, 08001, 08003, 08004,
 * 08006), the server shutting down or starting (57P01-57P03), a read-only
 * transaction after a failover (25006), a session ended for sitting idle
 * in a transaction (25P03: this node stalled mid-commit). SQLite's: the
 * file locked past busy_timeout.
 */
const PASSING_CODE = /^(0800[01346]|57P0[123]|25006|25P03|SQLITE_(BUSY|LOCKED)\w*)$/;

/** Outages an operator has to end: too many connections (53300), a full, unreadable or unwritable SQLite file. */
const LASTING_CODE = /^(53300|SQLITE_(FULL|IOERR|CANTOPEN|READONLY)\w*)$/;

/** pg and pg-pool raise these as plain Errors, known only by their text (the last two while the node shuts down). */
const PG_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|timeout expired|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)/;

export type StoreOutage = 'passing' | 'lasting';

/** Whether, and how, a failure is the database out of reach; undefined for anything else (a bug). */
export function storeOutage(err: unknown, depth = 0): StoreOutage | undefined {
  if (!(err instanceof Error) || depth > 3) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (LASTING_CODE.test(code)) return 'lasting';
    if (NETWORK_CODES.has(code) || PASSING_CODE.test(code)) return 'passing';
  }
  if (PG_MESSAGE.test(err.message)) return 'passing';
  // Node's connect with several addresses to try fails with an AggregateError of each attempt's.
  if (err instanceof AggregateError) {
    for (const e of err.errors) {
      const outage = storeOutage(e, depth + 1);
      if (outage) return outage;
    }
  }
  return storeOutage(err.cause, depth + 1);
}

/** How loudly to log a failure: a passing outage is a warning; one an operator must end, or a bug, an error. */
export function logLevelOf(err: unknown): 'warn' | 'error' {
  return storeOutage(err) === 'passing' ? 'warn' : 'error';
}

/** For a failure no handler turned into a code: `unavailable`, logged at its level, if it is an outage; undefined if it is a bug. */
export function outageError(err: unknown, log: Logger): DuetError | undefined {
  const outage = storeOutage(err);
  if (!outage) return undefined;
  log[outage === 'passing' ? 'warn' : 'error']({ err }, 'the database is unavailable');
  return new DuetError('unavailable', 'the database is unavailable; retry later');
}
