/**
 * Runs across two nodes on the machine's Redis and PostgreSQL: a run executes
 * on the node that received `run:start`, its output reaches people on the
 * other node through the adapter, and that node still knows about it (busy,
 * a joiner's state and output so far, stop, and the last run once logged).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultRunnerConfig } from '../server/runner/config.js';
import { api, connectClient, connectSocket, createInterview, waitFor } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';
import { spawnNode } from './fixtures/processes.js';
import { PG_URL, REDIS_URL } from './fixtures/services.js';
import type { PeerIO } from '../server/realtime/peers.js';
import { hasBwrap, runIdOf, startRun, TEST_LIMITS, watchRuns, writeCode } from './runner-fixtures.js';

describe.skipIf(!hasBwrap)('runs on two nodes', () => {
  it('output crosses nodes; the other node refuses a second run, tells joiners, and stops it', async () => {
    // The long run must outlast every step up to its stop on a loaded machine: the wall limit is no part of this test.
    const { nodes } = await startCluster(2, { runner: defaultRunnerConfig({ ...TEST_LIMITS, wallTimeMs: 30_000, uidBase: 400_000, uidCount: 1000 }) });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a, 'Two nodes', 'python');
    const candidate = await connectClient(a.url, await iv.invite('candidate', 'Cy'));
    const interviewer = await connectClient(b.url, await iv.invite('interviewer', 'Ada'));
    const observer = await connectClient(b.url, await iv.invite('observer', 'Obi'));
    const watchers = [candidate, interviewer, observer].map((c) => watchRuns(c.socket));

    await writeCode(candidate, 'print("across nodes")\n');
    const first = runIdOf(await startRun(candidate.socket));
    for (const w of watchers) expect((await w.exited(first)).stdout()).toBe('across nodes\n');

    await writeCode(candidate, 'import time\nprint("long", flush=True)\ntime.sleep(60)\n');
    const long = runIdOf(await startRun(candidate.socket, { stdin: 'some input\n' }));
    await waitFor(() => watchers[1]!.view(long).stdout() === 'long\n');
    expect(a.server.ctx.runner.current(iv.interview.id)?.runId).toBe(long);
    expect(await startRun(interviewer.socket)).toMatchObject({ error: { code: 'runner_busy' } });

    // A joiner on the other node is told of the run, and given its output so far, by the node running it.
    const late = watchRuns(connectSocket(b.url, await iv.invite('observer', 'Late')));
    await waitFor(() => late.view(long).output.length > 0);
    expect(late.view(long).states[0]).toMatchObject({ runId: long, state: 'running', by: { name: 'Cy' }, stdin: 'some input\n' });
    expect(late.view(long).output).toEqual([{ runId: long, stream: 'stdout', data: 'long\n', offset: 0 }]);
    // Asked as a node from before the output asks, node A answers as before: the state alone.
    const askA = (question: Record<string, unknown>) =>
      new Promise<unknown[]>((resolve) => (b.server.ctx.io as unknown as PeerIO).serverSideEmit('duet:run:current', question, (_: unknown, answers: unknown[]) => resolve(answers)));
    // The run's input goes only to a question that wants the output too (a joiner's): the busy check and the end do not need it.
    const { stdin: _input, ...withoutInput } = late.view(long).states[0]!;
    expect(await askA({ interviewId: iv.interview.id })).toEqual([withoutInput]);
    expect(await askA({ interviewId: iv.interview.id, withOutput: true })).toEqual([{ ...late.view(long).states[0], output: [{ stream: 'stdout', data: 'long\n', offset: 0 }] }]);

    expect(await interviewer.socket.emitWithAck('run:stop', { runId: long })).toEqual({ ok: true });
    for (const w of [...watchers, late]) {
      expect((await w.exited(long)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada', role: 'interviewer' } });
    }
    // Once it is logged, a joiner on the other node is told it was the last run.
    await waitFor(async () => (await b.server.ctx.store.latestEvent(iv.interview.id, 'run'))?.data.runId === long);
    const after = watchRuns(connectSocket(b.url, await iv.invite('observer', 'After')));
    await waitFor(() => after.last.length > 0);
    expect(after.last[0]).toMatchObject({
      runId: long,
      by: { name: 'Cy' },
      output: [{ stream: 'stdout', data: 'long\n', offset: 0 }],
      exit: { signal: 'SIGKILL', stoppedBy: { name: 'Ada' } },
    });
  });

  it('an end on the other node stops the run there and logs it before the end', async () => {
    const { nodes } = await startCluster(2, { runner: defaultRunnerConfig({ ...TEST_LIMITS, wallTimeMs: 30_000, uidBase: 401_000, uidCount: 1000 }) });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a, 'Ended across nodes', 'python');
    const candidate = await connectClient(a.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, 'import time\nprint("on node A", flush=True)\ntime.sleep(60)\n');
    const runId = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(runId).stdout() === 'on node A\n');

    // Ended through node B, which has no run of its own.
    expect((await api(b.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    expect((await w.exited(runId)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada' } });
    const { body } = await api(b.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    expect(body.events.slice(-2).map((e: { type: string }) => e.type)).toEqual(['run', 'end']);
    expect(body.events.at(-2).data).toMatchObject({ runId, stoppedBy: { name: 'Ada' } });
  });
  it('a delete on the other node stops the run there, and its record, with no interview to go to, logs no error', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const runner = defaultRunnerConfig({ ...TEST_LIMITS, wallTimeMs: 30_000, uidBase: 403_000, uidCount: 1000 });
    const { nodes } = await startCluster(2, { runner }, { logger });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a, 'Deleted mid-run', 'python');
    const candidate = await connectClient(a.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, 'import time\nprint("on node A", flush=True)\ntime.sleep(60)\n');
    const runId = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(runId).stdout() === 'on node A\n');

    // Deleted through node B, which has no run of its own: node A's run stops long before its 30 s.
    expect((await api(b.url, `/api/interviews/${iv.interview.id}`, { token: iv.token, method: 'DELETE' })).status).toBe(204);
    await waitFor(() => a.server.ctx.runner.current(iv.interview.id) === undefined, 10_000);
    // The record it tried to log is refused (no such interview) by now, quietly.
    await new Promise((r) => setTimeout(r, 500));
    expect(lines.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50)).toEqual([]);
  });
});

describe.skipIf(!hasBwrap)('runs on three nodes, one of them stuck', () => {
  it('the node with the run answers for it, though a third node never answers', async () => {
    const { nodes, prefix, schema } = await startCluster(2, { runner: defaultRunnerConfig({ ...TEST_LIMITS, wallTimeMs: 30_000, uidBase: 402_000, uidCount: 1000 }) });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    // A third node, as a process, so it can be frozen: it stays subscribed (counted) but answers nothing.
    const stuck = await spawnNode({ REDIS_URL, REDIS_KEY_PREFIX: prefix, DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema });
    await waitFor(async () => (await a.server.ctx.io.of('/').adapter.serverCount()) === 3 && (await b.server.ctx.io.of('/').adapter.serverCount()) === 3);
    process.kill(stuck.child.pid!, 'SIGSTOP');

    const iv = await createInterview(a, 'A stuck node', 'python');
    const candidate = await connectClient(a.url, await iv.invite('candidate', 'Cy'));
    const interviewer = await connectClient(b.url, await iv.invite('interviewer', 'Ada'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, 'import time\nprint("on node A", flush=True)\ntime.sleep(60)\n');
    const first = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(first).stdout() === 'on node A\n');

    // Node B learns of the run from node A without waiting for the stuck node.
    expect(await startRun(interviewer.socket)).toMatchObject({ error: { code: 'runner_busy' } });
    const late = watchRuns(connectSocket(b.url, await iv.invite('observer', 'Late')));
    await waitFor(() => late.view(first).output.length > 0);
    expect(late.view(first).states[0]).toMatchObject({ runId: first, state: 'running' });
    expect(await interviewer.socket.emitWithAck('run:stop', { runId: first })).toEqual({ ok: true });
    expect((await w.exited(first)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada' } });

    // An end through node B stops a run on node A, and the replay has it.
    const second = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(second).stdout() === 'on node A\n');
    expect((await api(b.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    expect((await w.exited(second)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada' } });
    const { body } = await api(b.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    expect(body.events.slice(-2).map((e: { type: string }) => e.type)).toEqual(['run', 'end']);
    expect(body.events.at(-2).data).toMatchObject({ runId: second });
  }, 120_000);
});
