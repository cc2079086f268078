/**
 * A `run` event's data, as the node logs each finished run
 * (server/realtime/runs.ts): read by the node for a joiner's `run:last`, and
 * by the replay's Runs tab. Read leniently, since the log outlives versions:
 * a field an older row lacks gets a neutral value.
 */
import type { ErrorCode } from './errors.js';
import type { RunExit } from './protocol.js';
import type { Role } from './roles.js';

export interface LoggedRun {
  /** Empty in a row that has none. */
  runId: string;
  path: string;
  language: string | undefined;
  startedAt: string | undefined;
  /** Empty when it read no input. */
  stdin: string;
  output: Array<{ stream: 'stdout' | 'stderr'; data: string }>;
  /** The code that ran, path to text, as read at the run's start; empty in a row logged before it was kept, or when it was too large to keep. */
  files: Record<string, string>;
  /** Characters of code that ran but was too large to keep with the run (LIMITS.runCodeLoggedChars). */
  codeChars: number | undefined;
  exit: RunExit;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const record = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined);

export function readLoggedRun(data: Record<string, unknown>): LoggedRun {
  const runId = text(data.runId) ?? '';
  const error = record(data.error);
  const stoppedBy = record(data.stoppedBy);
  const output = Array.isArray(data.output) ? data.output.map(record).filter((o) => o !== undefined) : [];
  return {
    runId,
    path: text(data.path) ?? '',
    language: text(data.language),
    startedAt: text(data.startedAt),
    stdin: text(data.stdin) ?? '',
    output: output.map((o) => ({ stream: o.stream === 'stderr' ? 'stderr' : 'stdout', data: text(o.data) ?? '' })),
    codeChars: num(data.codeChars),
    files: Array.isArray(data.files) ? {} : Object.fromEntries(Object.entries(record(data.files) ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')),
    exit: {
      runId,
      code: num(data.code) ?? null,
      signal: text(data.signal) ?? null,
      durationMs: num(data.durationMs) ?? 0,
      maxRssKb: num(data.maxRssKb) ?? null,
      truncated: data.truncated === true,
      ...(error && text(error.code) && text(error.message) ? { error: { code: error.code as ErrorCode, message: error.message as string } } : {}),
      ...(stoppedBy && text(stoppedBy.sub) && text(stoppedBy.name)
        ? { stoppedBy: { sub: stoppedBy.sub as string, name: stoppedBy.name as string, role: (text(stoppedBy.role) ?? 'interviewer') as Role } }
        : {}),
    },
  };
}
