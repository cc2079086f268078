/**
 * The node's runner: probes the sandbox once, then takes runs into a bounded
 * queue with `concurrency` runs at once (each its own host uid), one run at a
 * time per interview. It knows nothing of sockets or the event log; the
 * realtime layer (server/realtime/runs.ts) feeds it jobs and relays results.
 */
import { spawn } from 'node:child_process';
import { accessSync, chownSync, constants as fsConstants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DuetError } from '../../shared/errors.js';
import { LANGUAGE_IDS, type Language } from '../../shared/languages.js';
import type { Actor, RunState } from '../../shared/protocol.js';
import type { RunnerConfig } from './config.js';
import { execute, feedFds, type ExecResult, type Stream } from './execute.js';
import { probeCommand, sandboxCommand, unsafeCommand, type SandboxSpec } from './sandbox.js';
import { tasksOfUid, UidPool } from './uids.js';
import { BuildFailure, prepareWorkspace, type Workspace } from './workspace.js';

export interface RunJob {
  runId: string;
  interviewId: string;
  language: Language;
  /** The interview's files (path -> text) and the one to run. */
  files: Record<string, string>;
  path: string;
  stdin: string | undefined;
  /** What the room is told about the run; kept here so a joiner can be told too. */
  state: RunState;
  /** Its output so far, for the same reason (the job's own `onOutput` fills it). */
  output: ReadonlyArray<{ stream: Stream; data: string }>;
  onStart(): void;
  onOutput(stream: Stream, data: string): void;
  onExit(result: RunResult, stoppedBy: Actor | undefined): void;
}

export interface RunResult extends ExecResult {
  error?: DuetError;
}

export type RunnerMode = 'sandbox' | 'unsafe' | 'off';

export interface RunnerStatus {
  mode: RunnerMode;
  /** Why runs are refused, when they are. */
  reason?: string;
}

interface Active {
  job: RunJob;
  abort: AbortController;
  running: boolean;
  stoppedBy?: Actor;
}

const TIME_BINARY = '/usr/bin/time';

export function createRunner(config: RunnerConfig, log: Logger): Runner {
  return new Runner(config, log);
}

export class Runner {
  private status: RunnerStatus = { mode: 'off', reason: 'the runner is starting' };
  private readonly ready: Promise<void>;
  private readonly queue: Active[] = [];
  private readonly byRun = new Map<string, Active>();
  private readonly byInterview = new Map<string, string>();
  private executing = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly asRoot = process.getuid?.() === 0;
  private readonly uids: UidPool;
  private readonly timeBinary: string | undefined;
  private closed = false;
  private probed = false;

  constructor(
    readonly config: RunnerConfig,
    private readonly log: Logger,
  ) {
    this.timeBinary = executable(TIME_BINARY) ? TIME_BINARY : undefined;
    this.uids = new UidPool(config.uidBase, config.uidCount);
    this.ready = this.probe().finally(() => (this.probed = true));
  }

  /**
   * The interview languages this node runs, for the room's Run button: none
   * once it found it cannot run code at all; while it is still finding out,
   * those of its table (a run asked meanwhile waits for the answer).
   */
  languages(): Language[] {
    if (this.probed && this.status.mode === 'off') return [];
    // The table may hold rows for no interview language (RUNNER_LANGUAGES): no room asks for those.
    return LANGUAGE_IDS.filter((id) => this.config.languages[id] !== undefined);
  }

  /** Resolves once the probe has decided the mode. */
  async whenReady(): Promise<RunnerStatus> {
    await this.ready;
    return this.state();
  }

  state(): RunnerStatus {
    return { ...this.status };
  }

  private async probe(): Promise<void> {
    const c = this.config;
    if (!c.enabled) {
      this.status = { mode: 'off', reason: 'code runs are turned off on this server (RUNNER_ENABLED=false)' };
      return;
    }
    const problem = await this.probeSandbox();
    if (!problem) {
      this.status = { mode: 'sandbox' };
      if (!this.timeBinary) this.log.warn(`runner: ${TIME_BINARY} not found; runs report no peak memory (install GNU time)`);
      if (!this.asRoot) {
        this.log.warn('runner: the node is not root, so runs share its uid and RLIMIT_NPROC counts its processes too (docs/runner.md)');
      }
      return;
    }
    if (c.unsafeDev) {
      this.status = { mode: 'unsafe' };
      this.log.warn(
        { problem },
        'runner: RUNNER_UNSAFE_DEV=1 and no working sandbox: candidates\' code runs UNSANDBOXED on this machine, ' +
          'with its files and network. Never use this where strangers can run code.',
      );
      return;
    }
    this.status = {
      mode: 'off',
      reason: `the code runner needs bubblewrap and it does not work here: ${problem}`,
    };
    this.log.error(
      { problem },
      'runner: refusing code runs: bubblewrap (bwrap) is missing or does not work. Install the "bubblewrap" package, ' +
        'or set RUNNER_UNSAFE_DEV=1 on a development machine only (see docs/runner.md).',
    );
  }

  /** Runs `true` in the sandbox exactly as a real run would be; returns what went wrong, if anything. */
  private async probeSandbox(): Promise<string | undefined> {
    const uid = this.asRoot ? this.uids.take() : undefined;
    try {
      return await this.probeAs(uid);
    } finally {
      this.uids.release(uid);
    }
  }

  private probeAs(uid: number | undefined): Promise<string | undefined> {
    const cmd = probeCommand(this.config, uid, uid === undefined ? tasksOfUid(process.getuid?.() ?? -1) : 0);
    return new Promise((resolve) => {
      let stderr = '';
      const inputs = cmd.inputs ?? [];
      // Nothing on fd 3 (the usage report) and no files: the inputs (the seccomp filter) start at FIRST_FILE_FD.
      const child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ['ignore', 'ignore', 'pipe', 'ignore', ...inputs.map(() => 'pipe' as const)] });
      feedFds(child, inputs);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      (child.stderr as Readable).on('data', (c: Buffer) => {
        if (stderr.length < 2000) stderr += c.toString('utf8');
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve(`${cmd.file}: ${err.message}`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve(code === 0 ? undefined : (stderr.trim().split('\n').pop() ?? '') || `exit ${code ?? signal}`);
      });
    });
  }

  /** The run of this interview on this node, queued or running. */
  current(interviewId: string): RunJob | undefined {
    const runId = this.byInterview.get(interviewId);
    return runId === undefined ? undefined : this.byRun.get(runId)?.job;
  }

  /** Queues the run, or refuses with a code. Resolves to whether it starts at once. */
  async submit(job: RunJob): Promise<{ queued: boolean }> {
    await this.ready;
    if (this.status.mode === 'off' || this.closed) {
      throw new DuetError('runner_unavailable', this.closed ? 'the node is shutting down' : this.status.reason!);
    }
    if (!this.config.languages[job.language]) {
      throw new DuetError('unsupported_language', `this server has no runner for ${job.language}`);
    }
    if (this.byInterview.has(job.interviewId)) {
      throw new DuetError('runner_busy', 'a run of this interview is already queued or running; stop it or wait');
    }
    const startsNow = this.executing < this.config.concurrency;
    if (!startsNow && this.queue.length >= this.config.queueLength) {
      throw new DuetError('queue_full', 'every runner on this node is busy; try again in a moment');
    }
    const active: Active = { job, abort: new AbortController(), running: false };
    this.byRun.set(job.runId, active);
    this.byInterview.set(job.interviewId, job.runId);
    this.queue.push(active);
    this.pump();
    return { queued: !startsNow };
  }

  /** Stops a queued or running run; false when this node has no such run. */
  stop(runId: string, interviewId: string, by?: Actor): boolean {
    const active = this.byRun.get(runId);
    if (!active || active.job.interviewId !== interviewId) return false;
    active.stoppedBy ??= by;
    if (active.running) {
      active.abort.abort();
      return true;
    }
    this.queue.splice(this.queue.indexOf(active), 1);
    this.forget(active);
    active.job.onExit({ code: null, signal: null, durationMs: 0, maxRssKb: null, truncated: false, reason: 'stopped' }, active.stoppedBy);
    return true;
  }

  private forget(active: Active): void {
    this.byRun.delete(active.job.runId);
    if (this.byInterview.get(active.job.interviewId) === active.job.runId) this.byInterview.delete(active.job.interviewId);
  }

  private pump(): void {
    while (this.executing < this.config.concurrency && this.queue.length > 0) {
      const active = this.queue.shift()!;
      this.executing++;
      active.running = true;
      const p = this.execute(active)
        .catch((err: unknown): RunResult => {
          this.log.error({ err, runId: active.job.runId }, 'runner: run failed');
          return {
            code: null,
            signal: null,
            durationMs: 0,
            maxRssKb: null,
            truncated: false,
            reason: 'failed',
            error: new DuetError('runner_unavailable', 'the runner failed to run this program'),
          };
        })
        .then((result) => {
          this.forget(active);
          this.executing--;
          this.running.delete(p);
          try {
            active.job.onExit(result, active.stoppedBy);
          } finally {
            this.pump();
          }
        });
      this.running.add(p);
    }
  }

  private async execute(active: Active): Promise<RunResult> {
    const { job } = active;
    const c = this.config;
    const row = c.languages[job.language]!;
    job.onStart();
    let workspace: Workspace;
    try {
      workspace = await prepareWorkspace(job.files, job.path, row);
    } catch (err) {
      if (!(err instanceof BuildFailure)) throw err;
      job.onOutput('stderr', err.message);
      return { code: 1, signal: null, durationMs: 0, maxRssKb: null, truncated: false, reason: 'exit' };
    }
    const hostUid = this.asRoot ? this.uids.take() : undefined;
    if (this.asRoot && hostUid === undefined) throw new Error('no free uid in RUNNER_UID_BASE..+RUNNER_UID_COUNT');
    try {
      return await this.executeAs(active, workspace, hostUid);
    } finally {
      this.uids.release(hostUid);
    }
  }

  private async executeAs(active: Active, workspace: Workspace, hostUid: number | undefined): Promise<RunResult> {
    const { job } = active;
    const c = this.config;
    const row = c.languages[job.language]!;
    const spec: SandboxSpec = {
      config: c,
      row,
      entry: workspace.entry,
      files: workspace.files.map((f) => f.path),
      hostUid,
      timeBinary: this.timeBinary,
      processBaseline: hostUid === undefined ? tasksOfUid(process.getuid?.() ?? -1) : 0,
    };
    const common = {
      stdin: job.stdin,
      wallTimeMs: c.wallTimeMs,
      outputBytes: c.outputBytes,
      onOutput: job.onOutput,
      signal: active.abort.signal,
    };
    let result: ExecResult;
    if (this.status.mode === 'sandbox') {
      result = await execute({ ...common, command: sandboxCommand(spec), files: workspace.files });
    } else {
      // Unsafe dev mode: a private host directory instead of the sandbox's tmpfs.
      const dir = mkdtempSync(join(tmpdir(), 'duet-run-'));
      try {
        for (const f of workspace.files) {
          mkdirSync(dirname(join(dir, f.path)), { recursive: true });
          writeFileSync(join(dir, f.path), f.content);
        }
        if (hostUid !== undefined) chownTree(dir, workspace.files.map((f) => f.path), hostUid);
        result = await execute({ ...common, command: unsafeCommand(spec, dir), cwd: dir, files: [] });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return { ...result, ...errorOf(result, c) };
  }

  /** Stops everything: queued runs end as stopped, running ones are killed. */
  async close(): Promise<void> {
    this.closed = true;
    // The probe is a process too.
    await this.ready;
    for (const active of [...this.queue]) this.stop(active.job.runId, active.job.interviewId);
    for (const active of this.byRun.values()) active.abort.abort();
    await Promise.allSettled([...this.running]);
  }
}

/** The refusal code a limit maps to, shown with the exit. */
function errorOf(result: ExecResult, c: RunnerConfig): { error?: DuetError } {
  switch (result.reason) {
    case 'timeout':
      return { error: new DuetError('run_timeout', `the run took longer than ${c.wallTimeMs} ms and was stopped`) };
    case 'cpu':
      return { error: new DuetError('run_timeout', `the run used more than ${c.cpuSeconds} s of CPU time and was stopped`) };
    case 'truncated':
      return { error: new DuetError('output_truncated', `the run printed more than ${c.outputBytes} bytes and was stopped`) };
    case 'failed':
      return { error: new DuetError('runner_unavailable', 'the runner could not start the program') };
    default:
      return {};
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function chownTree(dir: string, files: string[], uid: number): void {
  chownSync(dir, uid, uid);
  for (const f of files) {
    let p = join(dir, f);
    while (p !== dir) {
      chownSync(p, uid, uid);
      p = dirname(p);
    }
  }
}
