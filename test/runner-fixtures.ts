/**
 * Shared pieces of the runner tests: small limits so the suite stays fast, a
 * node with them, and a watcher that collects what a client sees of runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { RunExit, RunOutput, RunRecord, RunSettings, RunState } from '../shared/protocol.js';
import type { DuetClientSocket } from '../shared/provider.js';
import type { Config } from '../server/config.js';
import { defaultRunnerConfig, type RunnerConfig } from '../server/runner/config.js';
import { mainFile, startNode, waitFor, type TestClient, type TestNode } from './helpers.js';

export { hasBwrap } from './fixtures/tools.js';

export const TEST_LIMITS: Partial<RunnerConfig> = {
  wallTimeMs: 3000,
  cpuSeconds: 2,
  memoryMb: 128,
  processes: 32,
  outputBytes: 64 * 1024,
  workDirMb: 16,
  concurrency: 2,
  queueLength: 2,
};

export async function startRunnerNode(overrides: Partial<RunnerConfig> = {}, dataDir?: string, nodeConfig: Partial<Config> = {}): Promise<TestNode> {
  const runner = defaultRunnerConfig({ ...TEST_LIMITS, ...overrides });
  const node = await startNode({ ...nodeConfig, runner, ...(dataDir ? { dataDir } : {}) });
  await node.server.ctx.runner.whenReady();
  return node;
}

export interface RunView {
  states: RunState[];
  output: RunOutput[];
  exit?: RunExit;
  stdout(): string;
  stderr(): string;
  /** Both streams as the run wrote them, each chunk put at its offset (a chunk heard twice counts once). */
  placed(): string;
}

/** Output chunks put at their offsets; throws if two disagree on a character or a character is missing. */
export function placeOutput(chunks: ReadonlyArray<{ offset: number; data: string }>): string {
  const chars: string[] = [];
  for (const { offset, data } of chunks) {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (chars[at] !== undefined && chars[at] !== data[i]) throw new Error(`output chunks disagree at ${at}`);
      chars[at] = data[i]!;
    }
  }
  for (let i = 0; i < chars.length; i++) if (chars[i] === undefined) throw new Error(`output has a gap at ${i}`);
  return chars.join('');
}

/** Everything one socket receives about runs, by runId. */
export function watchRuns(socket: DuetClientSocket) {
  const runs = new Map<string, RunView>();
  const settings: RunSettings[] = [];
  const last: RunRecord[] = [];
  const view = (runId: string): RunView => {
    let v = runs.get(runId);
    if (!v) {
      const fresh: RunView = {
        states: [],
        output: [],
        stdout: () => fresh.output.filter((o) => o.stream === 'stdout').map((o) => o.data).join(''),
        stderr: () => fresh.output.filter((o) => o.stream === 'stderr').map((o) => o.data).join(''),
        placed: () => placeOutput(fresh.output),
      };
      v = fresh;
      runs.set(runId, v);
    }
    return v;
  };
  socket.on('run:state', (s) => view(s.runId).states.push(s));
  socket.on('run:output', (o) => view(o.runId).output.push(o));
  socket.on('run:exit', (e) => {
    view(e.runId).exit = e;
  });
  socket.on('run:settings', (s) => settings.push(s));
  socket.on('run:last', (r) => last.push(r));
  return {
    runs,
    settings,
    last,
    view,
    /** Waits for the run's exit as this socket sees it. */
    async exited(runId: string, timeoutMs = 10_000): Promise<RunView & { exit: RunExit }> {
      await waitFor(() => runs.get(runId)?.exit !== undefined, timeoutMs);
      return view(runId) as RunView & { exit: RunExit };
    },
  };
}

export type Ack = { runId: string } | { error: { code: string; message: string } };

export function startRun(socket: DuetClientSocket, payload: { path?: string; stdin?: string } = {}): Promise<Ack> {
  return socket.timeout(5000).emitWithAck('run:start', payload) as Promise<Ack>;
}

export function runIdOf(ack: Ack): string {
  if (!('runId' in ack)) throw new Error(`run refused: ${JSON.stringify(ack)}`);
  return ack.runId;
}

/** Replaces the first file's text and waits until the server has it. */
export async function writeCode(client: TestClient, code: string): Promise<void> {
  const text = mainFile(client);
  client.provider.doc('main').transact(() => {
    text.delete(0, text.length);
    text.insert(0, code);
  });
  await waitFor(() => client.provider.pending === 0);
}

/** Host processes whose command line contains `marker` (to prove nothing outlived a run). */
export function hostProcessesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(marker)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Host processes running as a uid in [from, to) (zombies aside). */
export function hostProcessesOfUids(from: number, to: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uid >= from && uid < to && !/^State:\s+Z/m.test(status)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
