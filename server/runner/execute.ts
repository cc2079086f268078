/**
 * Runs one launcher command (sandbox or unsafe) to the end: feeds it the files
 * and stdin, streams its output in ordered batches, enforces the wall time and
 * the output limit by killing the whole process group, and reads the peak
 * memory report from fd 3.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { FIRST_FILE_FD, USAGE_FD, type Command } from './sandbox.js';
import type { WorkFile } from './workspace.js';

export type Stream = 'stdout' | 'stderr';

/** Why the run ended: on its own, or which limit or person ended it. */
export type EndReason = 'exit' | 'timeout' | 'cpu' | 'stopped' | 'truncated' | 'failed';

export interface ExecResult {
  code: number | null;
  signal: string | null;
  durationMs: number;
  maxRssKb: number | null;
  truncated: boolean;
  reason: EndReason;
}

export interface ExecOptions {
  command: Command;
  cwd?: string;
  /** Copied in on fds FIRST_FILE_FD.. (bwrap --file); empty when the caller wrote them itself. */
  files: readonly WorkFile[];
  stdin: string | undefined;
  wallTimeMs: number;
  outputBytes: number;
  /** Batches in the order the program wrote them. */
  onOutput(stream: Stream, data: string): void;
  signal: AbortSignal;
}

/** Output is sent in batches: at most this often, or when this much is pending. */
const FLUSH_MS = 25;
const FLUSH_BYTES = 16 * 1024;
/** After a SIGKILL the pipes close at once; this bounds the wait if something odd holds them. */
const CLOSE_GRACE_MS = 2000;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export function execute(opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let exitedAt: number | undefined;
    let killedFor: EndReason | undefined;
    let used = 0;
    let truncated = false;
    let usage = '';
    let pending: Array<{ stream: Stream; data: string }> = [];
    let pendingBytes = 0;
    let flushTimer: NodeJS.Timeout | undefined;
    let done = false;

    const inputs = opts.command.inputs ?? [];
    const child = spawn(opts.command.file, opts.command.args, {
      env: opts.command.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      // Its own process group: one kill reaches the launcher chain.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', ...opts.files.map(() => 'pipe' as const), ...inputs.map(() => 'pipe' as const)],
    });

    const flush = () => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      const batch = pending;
      pending = [];
      pendingBytes = 0;
      for (const b of batch) opts.onOutput(b.stream, b.data);
    };

    const kill = (reason: EndReason) => {
      killedFor ??= reason;
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      setTimeout(() => finish(null, 'SIGKILL'), CLOSE_GRACE_MS).unref();
    };

    const decoders: Record<Stream, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const take = (stream: Stream, chunk: Buffer) => {
      if (truncated || done) return;
      const room = opts.outputBytes - used;
      if (chunk.length > room) {
        chunk = chunk.subarray(0, room);
        truncated = true;
      }
      used += chunk.length;
      const text = decoders[stream].write(chunk);
      if (text.length > 0) {
        const last = pending[pending.length - 1];
        if (last?.stream === stream) last.data += text;
        else pending.push({ stream, data: text });
        pendingBytes += chunk.length;
      }
      if (truncated) {
        // Stop reading and stop the program: nobody gets more than the limit.
        flush();
        kill('truncated');
      } else if (pendingBytes >= FLUSH_BYTES) flush();
      else flushTimer ??= setTimeout(flush, FLUSH_MS);
    };

    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      for (const s of ['stdout', 'stderr'] as const) {
        const rest = decoders[s].end();
        if (rest && !truncated) pending.push({ stream: s, data: rest });
      }
      flush();
      done = true;
      clearTimeout(wallTimer);
      opts.signal.removeEventListener('abort', onAbort);
      for (const s of child.stdio) s?.destroy();
      const durationMs = Math.round((exitedAt ?? performance.now()) - started);
      resolve({ ...outcome(code, signal, usage, killedFor), durationMs, truncated });
    };

    const wallTimer = setTimeout(() => kill('timeout'), opts.wallTimeMs);
    const onAbort = () => kill('stopped');
    opts.signal.addEventListener('abort', onAbort);
    if (opts.signal.aborted) onAbort();

    child.on('error', () => {
      killedFor ??= 'failed';
      finish(null, null);
    });
    child.on('exit', () => {
      exitedAt = performance.now();
    });
    child.on('close', (code, signal) => finish(code, signal));

    (child.stdout as Readable).on('data', (c: Buffer) => take('stdout', c));
    (child.stderr as Readable).on('data', (c: Buffer) => take('stderr', c));
    const usageStream = child.stdio[USAGE_FD] as Readable;
    usageStream.on('data', (c: Buffer) => {
      if (usage.length < 1000) usage += c.toString('utf8');
    });
    // A program that exits without reading its stdin, or a sandbox that died early: EPIPE is expected.
    const input = child.stdin as Writable;
    input.on('error', () => {});
    input.end(opts.stdin ?? '');
    feedFds(child, [...opts.files.map((f) => f.content), ...inputs]);
    for (const s of child.stdio) s?.on('error', () => {});
  });
}

/** Writes each content to its own fd from FIRST_FILE_FD on (bwrap reads them while it sets up). */
export function feedFds(child: ChildProcess, contents: readonly Uint8Array[]): void {
  contents.forEach((content, i) => {
    const fd = child.stdio[FIRST_FILE_FD + i] as Writable;
    // A sandbox that died early: EPIPE is expected.
    fd.on('error', () => {});
    fd.end(content);
  });
}

/** Exit status, signal and peak memory from what the launcher and GNU time reported. */
function outcome(
  code: number | null,
  signal: NodeJS.Signals | null,
  usage: string,
  killedFor: EndReason | undefined,
): Omit<ExecResult, 'durationMs' | 'truncated'> {
  const rss = /(\d+)\s*$/.exec(usage);
  const maxRssKb = rss ? Number(rss[1]) : null;
  if (killedFor) return { code: null, signal: killedFor === 'failed' ? null : 'SIGKILL', maxRssKb, reason: killedFor };
  const bySignal = /terminated by signal (\d+)/.exec(usage);
  let sig: string | null = bySignal ? (SIGNAL_NAMES.get(Number(bySignal[1])) ?? `SIG${bySignal[1]}`) : signal;
  let exit = sig ? null : code;
  // Without GNU time, a shell reports a signalled child as 128 + the signal.
  if (!usage && exit !== null && exit > 128 && SIGNAL_NAMES.has(exit - 128)) {
    sig = SIGNAL_NAMES.get(exit - 128)!;
    exit = null;
  }
  return { code: exit, signal: sig, maxRssKb, reason: sig === 'SIGXCPU' ? 'cpu' : 'exit' };
}
