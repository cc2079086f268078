/**
 * Why a node could not start, as one line naming the setting to look at:
 * main.ts prints it where it would otherwise print a stack trace. The error
 * as it came stays in `cause` (logged at LOG_LEVEL=debug).
 */
import type { Config } from './config.js';

export class StartError extends Error {
  override name = 'StartError';
}

/** An error's own words; a refused connection to `localhost` (both of its addresses) has none. */
export function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message || (err as NodeJS.ErrnoException).code || err.name;
}

/** The store would not open: PostgreSQL's answer, or the SQLite file's. */
export function storeStartError(config: Pick<Config, 'databaseUrl' | 'dataDir'>, err: unknown): StartError {
  const reason = reasonOf(err);
  return config.databaseUrl
    ? new StartError(`cannot use the database at DATABASE_URL: ${reason}`, { cause: err })
    : new StartError(`cannot keep data in DATA_DIR (${config.dataDir}): ${reason}`, { cause: err });
}

/** The port would not open. */
export function listenStartError(err: unknown, port: number, host: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new StartError(`port ${port} on ${host} is in use (another Duet, or another program): stop it, or set PORT`, { cause: err });
  if (code === 'EADDRNOTAVAIL') return new StartError(`HOST ${host} is not an address of this machine: set HOST (0.0.0.0 listens on all of them)`, { cause: err });
  if (code === 'EACCES') return new StartError(`port ${port} needs privileges this user does not have: set PORT above 1023`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
