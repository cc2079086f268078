/**
 * Code runs over the wire: each default language's output reaches everyone in
 * the room, stdin, who may run, stop, one run per interview, the bounded
 * queue, the log, and the refusal when there is no sandbox.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { api, connectClient, connectSocket, createInterview, holdNextStoreAnswer, nextEvent, startNode, tempDir, waitFor } from './helpers.js';
import { defaultRunnerConfig } from '../server/runner/config.js';
import { prepareWorkspace } from '../server/runner/workspace.js';
import { LIMITS } from '../shared/limits.js';
import { hasBwrap, runIdOf, startRun, startRunnerNode, watchRuns, writeCode } from './runner-fixtures.js';

const PROGRAMS = {
  javascript: 'const n = [1, 2, 3].reduce((a, b) => a + b);\nconsole.log(`js says ${n}`);\nconsole.error("js to stderr");\n',
  typescript:
    'interface Point { x: number; y: number }\nconst p: Point = { x: 2, y: 3 };\nconst sum = (q: Point): number => q.x + q.y;\n' +
    'console.log(`ts says ${sum(p)}`);\nconsole.error("ts to stderr");\n',
  python: 'import sys\nprint("py says", sum([1, 2, 3]))\nprint("py to stderr", file=sys.stderr)\n',
} as const;

const EXPECTED = { javascript: 'js says 6\n', typescript: 'ts says 5\n', python: 'py says 6\n' } as const;

describe.skipIf(!hasBwrap)('code runs', () => {
  for (const language of ['javascript', 'typescript', 'python'] as const) {
    it(`a ${language} program's output reaches interviewer, candidate and observer`, async () => {
      const node = await startRunnerNode();
      expect(node.server.ctx.runner.state().mode).toBe('sandbox');
      const iv = await createInterview(node, 'Run', language);
      const interviewer = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
      const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
      const observer = await connectClient(node.url, await iv.invite('observer', 'Obi'));
      const watchers = [interviewer, candidate, observer].map((c) => watchRuns(c.socket));
      await writeCode(candidate, PROGRAMS[language]);

      const runId = runIdOf(await startRun(candidate.socket));
      for (const w of watchers) {
        const run = await w.exited(runId);
        expect(run.stdout()).toBe(EXPECTED[language]);
        expect(run.stderr()).toContain(`${language === 'python' ? 'py' : language === 'javascript' ? 'js' : 'ts'} to stderr`);
        expect(run.exit).toMatchObject({ runId, code: 0, signal: null, truncated: false });
        expect(run.exit.durationMs).toBeGreaterThan(0);
        expect(run.exit.maxRssKb).toBeGreaterThan(1000);
        expect(run.states.map((s) => s.state)).toContain('running');
        expect(run.states[0]).toMatchObject({ path: `main.${language === 'python' ? 'py' : language === 'javascript' ? 'js' : 'ts'}`, language, by: { name: 'Cy', role: 'candidate' } });
      }
    });
  }

  it('feeds stdin, runs a chosen file, and reports a TypeScript syntax error as the run failing', async () => {
    const node = await startRunnerNode();
    const iv = await createInterview(node, 'Stdin', 'python');
    const a = await connectClient(node.url, await iv.invite('interviewer'));
    const w = watchRuns(a.socket);
    await writeCode(a, 'name = input()\nprint(f"hello {name}")\nimport helper\n');
    const helper = new Y.Text();
    a.files().set('helper.py', helper);
    helper.insert(0, 'print("helper imported")\n');
    await waitFor(() => a.provider.pending === 0);
    // The default is the first path in sorted order (helper.py), so name the file.
    const runId = runIdOf(await startRun(a.socket, { path: 'main.py', stdin: 'Grace\n' }));
    expect((await w.exited(runId)).stdout()).toBe('hello Grace\nhelper imported\n');
    // Everyone is told what the run read, and so is a joiner once it is logged.
    expect(w.view(runId).states.map((s) => s.stdin)).toEqual(['Grace\n']);
    await waitFor(async () => (await node.server.ctx.store.latestEvent(iv.interview.id, 'run'))?.data.runId === runId);
    const joiner = watchRuns(connectSocket(node.url, await iv.invite('observer')));
    await waitFor(() => joiner.last.length > 0);
    expect(joiner.last[0]).toMatchObject({ runId, stdin: 'Grace\n' });
    const other = runIdOf(await startRun(a.socket));
    expect((await w.exited(other)).stdout()).toBe('helper imported\n');
    expect(w.view(other).states.length).toBeGreaterThan(0);
    expect(w.view(other).states.every((s) => !('stdin' in s))).toBe(true);
    expect(await startRun(a.socket, { path: 'nope.py' })).toMatchObject({ error: { code: 'not_found' } });
    expect(await startRun(a.socket, { path: '../etc/passwd' })).toMatchObject({ error: { code: 'invalid_payload' } });

    const ts = await createInterview(node, 'Broken TS', 'typescript');
    const b = await connectClient(node.url, await ts.invite('candidate'));
    const wb = watchRuns(b.socket);
    await writeCode(b, 'const x: = 1;\n');
    const broken = await wb.exited(runIdOf(await startRun(b.socket)));
    expect(broken.exit.code).toBe(1);
    expect(broken.stderr()).toContain('main.ts:1:10: error');

    // Switched to TypeScript, an interview keeps its main.py: its code runs as TypeScript, not as JavaScript.
    expect(await a.socket.emitWithAck('interview:language', { language: 'typescript' })).toMatchObject({ ok: true, interview: { language: 'typescript' } });
    const mainPy = a.files().get('main.py')!;
    a.provider.doc('main').transact(() => {
      mainPy.delete(0, mainPy.length);
      mainPy.insert(0, 'const n: number = 41;\nconsole.log(n + 1);\n');
    });
    await waitFor(() => a.provider.pending === 0);
    const switched = await w.exited(runIdOf(await startRun(a.socket, { path: 'main.py' })));
    expect(switched.stderr()).toBe('');
    expect(switched.stdout()).toBe('42\n');
    expect(switched.exit.code).toBe(0);
  });

  it('observers cannot run; an interviewer turns candidate runs off, for good, and on again', async () => {
    const node = await startRunnerNode();
    const iv = await createInterview(node, 'Who runs', 'python');
    const interviewer = await connectClient(node.url, await iv.invite('interviewer'));
    const candidateToken = await iv.invite('candidate');
    const candidate = await connectClient(node.url, candidateToken);
    const observer = await connectClient(node.url, await iv.invite('observer'));
    const cw = watchRuns(candidate.socket);
    await writeCode(candidate, 'print("ok")\n');

    expect(await startRun(observer.socket)).toMatchObject({ error: { code: 'forbidden' } });
    expect(await observer.socket.emitWithAck('run:settings', { candidateMayRun: false })).toMatchObject({ error: { code: 'forbidden' } });
    expect(await candidate.socket.emitWithAck('run:settings', { candidateMayRun: false })).toMatchObject({ error: { code: 'forbidden' } });

    expect(await interviewer.socket.emitWithAck('run:settings', { candidateMayRun: false })).toEqual({ candidateMayRun: false, seq: expect.any(Number) });
    await waitFor(() => cw.settings.at(-1)?.candidateMayRun === false);
    expect(await startRun(candidate.socket)).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('turned off') } });
    // Interviewers still may.
    runIdOf(await startRun(interviewer.socket));

    // The setting is in the event log: a restarted node on the same data still refuses, and tells joiners.
    await waitFor(() => node.server.ctx.runner.current(iv.interview.id) === undefined);
    const [lateToken, bossToken] = [await iv.invite('observer', 'Late'), await iv.invite('interviewer')];
    await node.close();
    const again = await startRunnerNode({}, node.config.dataDir);
    // Joiners are told the setting.
    const late = connectSocket(again.url, lateToken);
    expect(await nextEvent(late, 'run:settings')).toEqual({ candidateMayRun: false, seq: expect.any(Number) });
    const rejoined = await connectClient(again.url, candidateToken);
    const rw = watchRuns(rejoined.socket);
    expect(await startRun(rejoined.socket)).toMatchObject({ error: { code: 'forbidden' } });
    const boss = await connectClient(again.url, bossToken);
    expect(await boss.socket.emitWithAck('run:settings', { candidateMayRun: true })).toEqual({ candidateMayRun: true, seq: expect.any(Number) });
    const ok = await rw.exited(runIdOf(await startRun(rejoined.socket)));
    expect(ok.stdout()).toBe('ok\n');
  });

  it('one run per interview, a stop button, and a bounded queue per node', async () => {
    // Runs that sleep until stopped: a wall limit must not end one first on a loaded machine.
    const node = await startRunnerNode({ concurrency: 1, queueLength: 1, wallTimeMs: 30_000 });
    const ivs = await Promise.all([1, 2, 3].map((i) => createInterview(node, `Queue ${i}`, 'python')));
    const clients = await Promise.all(ivs.map(async (iv) => connectClient(node.url, await iv.invite('interviewer'))));
    const watchers = clients.map((c) => watchRuns(c.socket));
    for (const c of clients) await writeCode(c, 'import time\nprint("start", flush=True)\ntime.sleep(60)\n');

    const first = runIdOf(await startRun(clients[0]!.socket));
    await waitFor(() => watchers[0]!.view(first).stdout() === 'start\n');
    expect(await startRun(clients[0]!.socket)).toMatchObject({ error: { code: 'runner_busy' } });

    const second = runIdOf(await startRun(clients[1]!.socket));
    await waitFor(() => watchers[1]!.view(second).states.some((s) => s.state === 'queued'));
    expect(await startRun(clients[2]!.socket)).toMatchObject({ error: { code: 'queue_full' } });

    // Stopping the first lets the queued one run.
    const observer = await connectClient(node.url, await ivs[0]!.invite('observer'));
    expect(await observer.socket.emitWithAck('run:stop', { runId: first })).toMatchObject({ error: { code: 'forbidden' } });
    expect(await clients[0]!.socket.emitWithAck('run:stop', { runId: first })).toEqual({ ok: true });
    const stopped = await watchers[0]!.exited(first);
    expect(stopped.exit).toMatchObject({ code: null, signal: 'SIGKILL', stoppedBy: { role: 'interviewer' } });
    expect(stopped.exit.error).toBeUndefined();
    await waitFor(() => watchers[1]!.view(second).stdout() === 'start\n');
    // A queued run can be stopped too, and a stop of another interview's run is not found.
    const third = runIdOf(await startRun(clients[2]!.socket));
    expect(await clients[0]!.socket.emitWithAck('run:stop', { runId: third })).toMatchObject({ error: { code: 'not_found' } });
    expect(await clients[2]!.socket.emitWithAck('run:stop', { runId: third })).toEqual({ ok: true });
    expect((await watchers[2]!.exited(third)).exit).toMatchObject({ code: null, signal: null, durationMs: 0 });
    expect(await clients[1]!.socket.emitWithAck('run:stop', { runId: second })).toEqual({ ok: true });
    await watchers[1]!.exited(second);
  });

  it('limits runs per person: how often they start, and what they log (code, input, output), apart from typing', async () => {
    const node = await startRunnerNode({ outputBytes: 512 * 1024 }, undefined, { writeBytesPerSecond: 1000, writeBytesBurst: LIMITS.updateBytes });
    const iv = await createInterview(node, 'Budget', 'python');
    const cand = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(cand.socket);
    // Each run logs half a megabyte of output: the budget (a megabyte) takes two, and a third
    // that starts before it is spent, and then no more until it has refilled.
    await writeCode(cand, 'print("x" * 600000)\n');
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ack = await startRun(cand.socket);
      if (!('runId' in ack)) {
        outcomes.push(ack.error.message);
        break;
      }
      await w.exited(ack.runId);
      outcomes.push('ok');
    }
    expect(outcomes.slice(0, 2)).toEqual(['ok', 'ok']);
    expect(outcomes.at(-1)).toMatch(/^too much logged by runs; retry in \d+ s$/);
    // Typing has a budget of its own.
    await writeCode(cand, 'print("still typing")\n');

    // Starts: five at once, then one a second. One of six sent together runs,
    // the runner refuses four as busy, and one is not even looked at.
    const ida = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    await writeCode(ida, 'import time\ntime.sleep(60)\n');
    const acks = await Promise.all(Array.from({ length: 6 }, () => startRun(ida.socket)));
    const codes = acks.map((ack) => ('runId' in ack ? 'ok' : ack.error.code)).sort();
    expect(codes).toEqual(['ok', 'rate_limited', 'runner_busy', 'runner_busy', 'runner_busy', 'runner_busy']);
  });

  it('logs each run with its output and exit, for the replay', async () => {
    const node = await startRunnerNode();
    const iv = await createInterview(node, 'Logged', 'javascript');
    const a = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(a.socket);
    await writeCode(a, 'console.log("to the log"); process.exit(3)\n');
    const runId = runIdOf(await startRun(a.socket, { stdin: 'in' }));
    await w.exited(runId);
    const events = await waitFor(async () => {
      const res = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
      const run = res.body.events.find((e: { type: string }) => e.type === 'run');
      return run ?? false;
    });
    expect(events).toMatchObject({
      type: 'run',
      actor: { name: 'Cy', role: 'candidate' },
      data: { runId, path: 'main.js', language: 'javascript', stdin: 'in', code: 3, signal: null, truncated: false },
    });
    expect(events.data.files).toEqual({ 'main.js': 'console.log("to the log"); process.exit(3)\n' });
    expect(events.data.output).toEqual([{ stream: 'stdout', data: 'to the log\n', ms: expect.any(Number) }]);

    // After the end, nothing runs.
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    expect(await startRun(a.socket)).toMatchObject({ error: { code: 'interview_ended' } });
  });

  it('logs the code as the run read it, not as it was edited while the run went on', async () => {
    const node = await startRunnerNode();
    const iv = await createInterview(node, 'Edited mid-run', 'javascript');
    const a = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(a.socket);
    const ran = 'setTimeout(() => console.log("ran"), 800);\n';
    await writeCode(a, ran);
    const runId = runIdOf(await startRun(a.socket));
    await waitFor(() => w.view(runId).states.some((s) => s.state === 'running'));
    await writeCode(a, 'console.log("typed while it ran");\n');
    expect((await w.exited(runId)).stdout()).toBe('ran\n');
    const run = await waitFor(async () => {
      const res = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
      return res.body.events.find((e: { type: string }) => e.type === 'run') ?? false;
    });
    expect(run.data.files).toEqual({ 'main.js': ran });
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token })).body.files).toEqual({
      'main.js': 'console.log("typed while it ran");\n',
    });

    // Code over what a run's event keeps: its size instead, so a page of the log stays a page.
    const large = `// ${'x'.repeat(LIMITS.runCodeLoggedChars)}\nconsole.log("large");\n`;
    await writeCode(a, large);
    const second = runIdOf(await startRun(a.socket));
    expect((await w.exited(second)).stdout()).toBe('large\n');
    const logged = await waitFor(async () => {
      const res = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
      return res.body.events.find((e: { type: string; data: { runId: string } }) => e.type === 'run' && e.data.runId === second) ?? false;
    });
    expect(logged.data.files).toBeUndefined();
    expect(logged.data.codeChars).toBe(large.length);
  });

  it('ending the interview stops its run and logs it before the end, so the replay has it', async () => {
    // A wall-time limit the end always beats, however loaded the machine.
    const node = await startRunnerNode({ wallTimeMs: 30_000 });
    const iv = await createInterview(node, 'Ended mid-run', 'python');
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, 'import time\nprint("still thinking", flush=True)\ntime.sleep(60)\n');
    const runId = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(runId).stdout() === 'still thinking\n');

    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    // Stopped by whoever ended it.
    expect((await w.exited(runId)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada', role: 'interviewer' } });
    const { body } = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    const types = body.events.map((e: { type: string }) => e.type);
    expect(types.slice(-2)).toEqual(['run', 'end']);
    expect(body.events.at(-2)).toMatchObject({
      actor: { name: 'Cy' },
      data: { runId, output: [{ stream: 'stdout', data: 'still thinking\n' }], signal: 'SIGKILL', stoppedBy: { name: 'Ada' } },
    });
    // Nothing runs after the end, nothing is left running.
    expect(node.server.ctx.runner.current(iv.interview.id)).toBeUndefined();
  });

  it('a run started while the end waits for the last record is stopped once it has ended, and one set up across the end never starts', async () => {
    const node = await startRunnerNode({ wallTimeMs: 30_000 });
    const { store } = node.server.ctx;
    const program = 'import time\nprint("still thinking", flush=True)\ntime.sleep(60)\n';
    const iv = await createInterview(node, 'Runs across the end', 'python');
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, program);
    const first = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(first).stdout() === 'still thinking\n');

    // The end stops the first run, then waits for its record: held there, a second run starts.
    const held = holdNextStoreAnswer(store, 'latestEvent', 0, (args) => args[1] === 'run');
    const ending = api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' });
    await held.answered;
    await w.exited(first);
    const second = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(second).stdout() === 'still thinking\n');
    held.release();
    expect((await ending).status).toBe(200);
    expect((await w.exited(second)).exit).toMatchObject({ signal: 'SIGKILL', stoppedBy: { name: 'Ada' } });
    const { body } = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    expect(body.events.at(-1).type).toBe('end');
    expect(body.events.filter((e: { type: string }) => e.type === 'run').map((e: { data: { runId: string } }) => e.data.runId)).toEqual([first]);

    // A run:start that passed its first check before an end and is queued after it: refused, and nothing runs.
    const other = await createInterview(node, 'Set up across the end', 'python');
    const late = await connectClient(node.url, await other.invite('candidate', 'Cy'));
    const lateRuns = watchRuns(late.socket);
    await writeCode(late, program);
    const settingsRead = holdNextStoreAnswer(store, 'latestEvent', 0, (args) => args[0] === other.interview.id && args[1] === 'run_settings');
    const starting = startRun(late.socket);
    await settingsRead.answered;
    expect((await api(node.url, `/api/interviews/${other.interview.id}/end`, { token: other.token, method: 'POST' })).status).toBe(200);
    settingsRead.release();
    expect(await starting).toMatchObject({ error: { code: 'interview_ended' } });
    // Stopped at once (its process killed, if it had one), and the room never heard of it.
    await waitFor(() => node.server.ctx.runner.current(other.interview.id) === undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(lateRuns.runs.size).toBe(0);
  });

  it('refuses languages the table has no row for', async () => {
    const node = await startRunnerNode();
    const iv = await createInterview(node, 'Go', 'go');
    const a = await connectClient(node.url, await iv.invite('interviewer'));
    expect(await startRun(a.socket)).toMatchObject({ error: { code: 'unsupported_language' } });
  });
});

describe("a TypeScript run's files", () => {
  it('the entry is transpiled whatever its name, and wins over a file of the name its JavaScript takes', async () => {
    const row = defaultRunnerConfig({}).languages.typescript!;
    const files = { main: 'const a: number = 1;\nconsole.log(a);\n', 'main.js': 'console.log("not this one");\n', 'lib.ts': 'export const b: number = 2;\n', 'lib.js': 'old' };
    const workspace = await prepareWorkspace(files, 'main', row);
    expect(workspace.entry).toBe('main.js');
    const byPath = new Map(workspace.files.map((f) => [f.path, f.content.toString()]));
    expect(workspace.files.map((f) => f.path).sort()).toEqual(['lib.js', 'main.js']);
    expect(byPath.get('main.js')).toContain('const a = 1;');
    expect(byPath.get('lib.js')).toContain('const b = 2;');
  });
});

describe('without a sandbox', () => {
  it('refuses runs with a clear message, unless the operator chose the unsafe dev mode', async () => {
    const node = await startNode({ runner: defaultRunnerConfig({ bwrapPath: '/nonexistent/bwrap' }) });
    const state = await node.server.ctx.runner.whenReady();
    expect(state.mode).toBe('off');
    const iv = await createInterview(node, 'No sandbox', 'python');
    const a = await connectClient(node.url, await iv.invite('interviewer'));
    expect(await startRun(a.socket)).toMatchObject({ error: { code: 'runner_unavailable', message: expect.stringContaining('bubblewrap') } });
    // Its rooms are told it runs nothing, so they offer no Run.
    expect(a.provider.session!.runLanguages).toEqual([]);

    const off = await startNode({ runner: defaultRunnerConfig({ enabled: false }) });
    const iv2 = await createInterview(off, 'Off', 'python');
    const b = await connectClient(off.url, await iv2.invite('interviewer'));
    expect(await startRun(b.socket)).toMatchObject({ error: { code: 'runner_unavailable', message: expect.stringContaining('turned off') } });

    const unsafe = await startNode({ runner: defaultRunnerConfig({ bwrapPath: '/nonexistent/bwrap', unsafeDev: true, wallTimeMs: 3000 }) });
    expect((await unsafe.server.ctx.runner.whenReady()).mode).toBe('unsafe');
    const iv3 = await createInterview(unsafe, 'Unsafe', 'python');
    const c = await connectClient(unsafe.url, await iv3.invite('interviewer'));
    expect(c.provider.session!.runLanguages).toEqual(['javascript', 'typescript', 'python']);
    const w = watchRuns(c.socket);
    await writeCode(c, 'import os, tempfile\nprint("unsandboxed", tempfile.gettempdir() == os.environ["HOME"] != "/tmp")\n');
    const run = await w.exited(runIdOf(await startRun(c.socket)));
    // Its temporary files go to the run's own directory, removed afterwards, not the host's /tmp.
    expect(run.stdout()).toBe('unsandboxed True\n');
  });
});

describe.skipIf(!hasBwrap)('the language table', () => {
  it('an operator adds languages with RUNNER_LANGUAGES: a shell script, and C with a build step', async () => {
    const { loadConfig } = await import('../server/config.js');
    const config = loadConfig({
      RUNNER_LANGUAGES: JSON.stringify({
        shell: { run: ['sh', '{file}'] },
        c: { build: ['gcc', '-O1', '-o', '/tmp/{stem}', '{file}'], run: ['/tmp/{stem}'], addressSpaceExtraMb: 1024 },
        python: null,
      }),
    });
    expect(Object.keys(config.runner.languages).sort()).toEqual(['c', 'javascript', 'shell', 'typescript']);
    const node = await startRunnerNode({ languages: config.runner.languages, wallTimeMs: 8000, cpuSeconds: 6 });

    const sh = await createInterview(node, 'Shell', 'shell');
    const a = await connectClient(node.url, await sh.invite('interviewer'));
    const wa = watchRuns(a.socket);
    await writeCode(a, 'read name\necho "hi $name from $(id -u)"\n');
    expect((await wa.exited(runIdOf(await startRun(a.socket, { stdin: 'Ada\n' })))).stdout()).toBe('hi Ada from 65534\n');

    const c = await createInterview(node, 'C', 'c');
    const b = await connectClient(node.url, await c.invite('interviewer'));
    const wb = watchRuns(b.socket);
    await writeCode(b, '#include <stdio.h>\nint main(void) { printf("c says %d\\n", 6 * 7); return 0; }\n');
    const built = await wb.exited(runIdOf(await startRun(b.socket)), 15_000);
    expect(built.stderr()).toBe('');
    expect(built.stdout()).toBe('c says 42\n');
    await writeCode(b, 'int main(void) { return undefined_thing; }\n');
    const broken = await wb.exited(runIdOf(await startRun(b.socket)), 15_000);
    expect(broken.exit.code).toBe(1);
    expect(broken.stderr()).toContain('undefined_thing');

    const py = await createInterview(node, 'Removed', 'python');
    const p = await connectClient(node.url, await py.invite('interviewer'));
    expect(await startRun(p.socket)).toMatchObject({ error: { code: 'unsupported_language' } });
  });

  it('bad RUNNER_* values are refused at start with the variable named', async () => {
    const { loadConfig, ConfigError } = await import('../server/config.js');
    expect(() => loadConfig({ RUNNER_LANGUAGES: '{"python": {"run": []}}' })).toThrow(ConfigError);
    expect(() => loadConfig({ RUNNER_LANGUAGES: '{"cobol": {"run": ["x"]}}' })).toThrow(/RUNNER_LANGUAGES/);
    expect(() => loadConfig({ RUNNER_LANGUAGES: 'not json' })).toThrow(/RUNNER_LANGUAGES: is not valid JSON/);
    expect(() => loadConfig({ RUNNER_LANGUAGES: '@/nonexistent/languages.json' })).toThrow(/RUNNER_LANGUAGES/);
    expect(() => loadConfig({ RUNNER_MEMORY_MB: 'lots' })).toThrow(/RUNNER_MEMORY_MB/);
    expect(() => loadConfig({ RUNNER_UNSAFE_DEV: 'maybe' })).toThrow(/RUNNER_UNSAFE_DEV/);
    const file = join(tempDir(), 'languages.json');
    writeFileSync(file, JSON.stringify({ ruby: { run: ['ruby', '{file}'] } }));
    expect(loadConfig({ RUNNER_LANGUAGES: `@${file}`, RUNNER_UNSAFE_DEV: '1' }).runner).toMatchObject({
      unsafeDev: true,
      languages: { ruby: { run: ['ruby', '{file}'] } },
    });
  });

  it("a joiner is sent the run in progress with its output so far, and once it is over the last run, output and exit", async () => {
    const node = await startRunnerNode({ wallTimeMs: 10_000 });
    const iv = await createInterview(node, 'Late joiners', 'python');
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const w = watchRuns(candidate.socket);
    // A joiner of an interview that never ran anything hears of no last run.
    const first = watchRuns(connectSocket(node.url, await iv.invite('observer', 'Early')));
    await waitFor(() => first.settings.length > 0);
    await writeCode(candidate, 'import sys, time\nprint("first", flush=True)\nprint("oops", file=sys.stderr, flush=True)\ntime.sleep(3)\nprint("second")\n');
    const runId = runIdOf(await startRun(candidate.socket));
    await waitFor(() => w.view(runId).output.length >= 2, 5000);

    const late = watchRuns(connectSocket(node.url, await iv.invite('observer', 'Obi')));
    await waitFor(() => late.view(runId).states.length > 0 && late.view(runId).output.length >= 2);
    expect(late.view(runId).states[0]).toMatchObject({ runId, state: 'running', by: { name: 'Cy' } });
    expect(late.view(runId).output.slice(0, 2)).toEqual([
      { runId, stream: 'stdout', data: 'first\n', offset: 0 },
      { runId, stream: 'stderr', data: 'oops\n', offset: 6 },
    ]);
    const run = await w.exited(runId);
    const lateRun = await late.exited(runId);
    // Everyone's chunks, the joiner's catch-up with them, add up to the same output; the offsets run on across both streams.
    expect(run.placed()).toBe('first\noops\nsecond\n');
    expect(lateRun.placed()).toBe('first\noops\nsecond\n');
    expect(run.output.map((o) => o.offset)).toEqual(run.output.map((_, i) => run.output.slice(0, i).reduce((n, o) => n + o.data.length, 0)));

    // After it, once it is logged: a joiner is told the last run.
    await waitFor(async () => (await node.server.ctx.store.latestEvent(iv.interview.id, 'run'))?.data.runId === runId);
    const after = watchRuns(connectSocket(node.url, await iv.invite('interviewer', 'Ada')));
    await waitFor(() => after.last.length > 0);
    expect(after.last[0]).toEqual({
      runId,
      path: 'main.py',
      language: 'python',
      by: { sub: expect.any(String), name: 'Cy', role: 'candidate' },
      at: expect.any(String),
      output: [
        { stream: 'stdout', data: 'first\n', offset: 0 },
        { stream: 'stderr', data: 'oops\n', offset: 6 },
        { stream: 'stdout', data: 'second\n', offset: 11 },
      ],
      exit: { ...run.exit },
    });
    expect(after.runs.size).toBe(0);
    expect(first.last).toEqual([]);
  });

  it('output streams while the program runs, not at its end', async () => {
    const node = await startRunnerNode({ wallTimeMs: 10_000 });
    const iv = await createInterview(node, 'Live', 'python');
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const w = watchRuns(a.socket);
    let firstAt = 0;
    a.socket.on('run:output', () => (firstAt ||= Date.now()));
    // Two seconds apart: a stall of the test's own process shortens the gap it sees by as much.
    await writeCode(a, 'import time\nprint("first", flush=True)\ntime.sleep(2)\nprint("second")\n');
    const run = await w.exited(runIdOf(await startRun(a.socket)));
    const exitAt = Date.now();
    expect(run.stdout()).toBe('first\nsecond\n');
    expect(run.output[0]!.data).toBe('first\n');
    expect(exitAt - firstAt).toBeGreaterThan(1000);
  });
});
