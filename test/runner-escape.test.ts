/**
 * Escape attempts. Each one must be contained, end with its code, and leave
 * the node as it was: after every attempt the node answers /healthz and runs
 * a normal program, and no process of the run's uids is left on the host.
 */
import { writeFileSync, existsSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../shared/languages.js';
import { connectClient, createInterview, tempDir, waitFor, type TestNode } from './helpers.js';
import {
  hasBwrap,
  hostProcessesOfUids,
  hostProcessesWith,
  runIdOf,
  startRun,
  startRunnerNode,
  TEST_LIMITS,
  watchRuns,
  writeCode,
} from './runner-fixtures.js';

const SECRET = 'duet-test-secret-6f1c2a9b';
const ESCAPE_UIDS = { uidBase: 300_000, uidCount: 1000 };
const asRoot = process.getuid?.() === 0;

describe.skipIf(!hasBwrap)('the sandbox holds', () => {
  // The node process has a secret in its environment; no run may see it.
  beforeAll(() => {
    process.env.DUET_TEST_SECRET = SECRET;
  });
  afterAll(() => {
    delete process.env.DUET_TEST_SECRET;
  });

  /** Runs `code` as a candidate on a fresh interview and returns what the room saw. */
  async function attempt(node: TestNode, language: Language, code: string, stdin?: string) {
    const iv = await createInterview(node, 'Escape', language);
    const candidate = await connectClient(node.url, await iv.invite('candidate'));
    const w = watchRuns(candidate.socket);
    await writeCode(candidate, code);
    const t0 = Date.now();
    const run = await w.exited(runIdOf(await startRun(candidate.socket, stdin === undefined ? {} : { stdin })), 15_000);
    return { ...run, elapsedMs: Date.now() - t0, candidate, w };
  }

  /** The node is unaffected: healthy, runs a normal program, and nothing of the run is left. */
  async function assertNodeUnaffected(node: TestNode) {
    const cfg = node.server.ctx.config.runner;
    const health = await fetch(`${node.url}/healthz`);
    expect(health.status).toBe(200);
    const ok = await attempt(node, 'python', 'print("still fine")\n');
    expect(ok.stdout()).toBe('still fine\n');
    // This file's own uid range (other test files run in parallel with theirs).
    if (asRoot) await waitFor(() => hostProcessesOfUids(cfg.uidBase, cfg.uidBase + cfg.uidCount).length === 0, 5000);
  }

  it('no network: a TCP server on the host loopback is unreachable, and so is the outside', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    let connections = 0;
    const server = createTcpServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const run = await attempt(
        node,
        'python',
        [
          'import socket',
          `for host, port in [("127.0.0.1", ${port}), ("1.1.1.1", 53), ("10.0.0.1", 80)]:`,
          '    try:',
          '        socket.create_connection((host, port), timeout=1)',
          '        print("CONNECTED", host)',
          '    except OSError as e:',
          '        print("blocked", host, type(e).__name__)',
          'try:',
          '    socket.getaddrinfo("example.com", 80)',
          '    print("RESOLVED")',
          'except OSError as e:',
          '    print("no dns", type(e).__name__)',
          'import os',
          'print("interfaces", sorted(os.listdir("/sys/class/net")) if os.path.exists("/sys/class/net") else "none")',
        ].join('\n'),
      );
      expect(run.stdout()).not.toContain('CONNECTED');
      expect(run.stdout()).not.toContain('RESOLVED');
      expect(run.stdout()).toContain('blocked 127.0.0.1');
      expect(run.stdout()).toContain('blocked 1.1.1.1');
      expect(run.exit.code).toBe(0);
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
    await assertNodeUnaffected(node);
  });

  it('no writes outside the work directory: system dirs are read-only, the host /tmp is not there', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const hostDir = tempDir('duet-escape-');
    const target = join(hostDir, 'pwned');
    const run = await attempt(
        node,
      'python',
      [
        'import os',
        `for path in ["/usr/pwned", "/etc/pwned", "/pwned", "/bin/pwned", "/proc/pwned", "${target}", "/work/../pwned"]:`,
        '    try:',
        '        open(path, "w").write("x")',
        '        print("WROTE", path)',
        '    except OSError as e:',
        '        print("refused", path, type(e).__name__)',
        'open("/work/ok.txt", "w").write("fine"); open("/tmp/ok.txt", "w").write("fine")',
        'print("work dir and /tmp writable")',
        // The tmpfs is sized: filling it fails instead of eating the host's memory.
        'try:',
        '    open("/tmp/big", "wb").write(b"x" * (64 * 1024 * 1024))',
        '    print("FILLED")',
        'except OSError as e:',
        '    print("full", type(e).__name__)',
      ].join('\n'),
    );
    expect(run.stdout()).not.toContain('WROTE');
    expect(run.stdout()).toContain('work dir and /tmp writable');
    expect(run.stdout()).not.toContain('FILLED');
    expect(existsSync(target)).toBe(false);
    await assertNodeUnaffected(node);
  });

  it('no memory past the limits: /dev is read-only, /dev/shm is sized, and anonymous files and System V memory are refused', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const run = await attempt(
      node,
      'python',
      [
        'import ctypes, os',
        'def tries(label, f):',
        '    try:',
        '        f()',
        '        print("ALLOWED", label)',
        '    except OSError as e:',
        '        print("refused", label, e.errno)',
        // Each of these held memory outside RLIMIT_AS and the tmpfs sizes before the filter.
        'tries("dev", lambda: open("/dev/big", "wb").write(b"x" * 1024))',
        // Files each under RLIMIT_FSIZE (TEST_LIMITS: 16 MB), 64 MB in all: the mount's size stops them.
        'def fill():',
        '    for i in range(8): open(f"/dev/shm/big{i}", "wb").write(b"x" * (8 * 1024 * 1024))',
        'tries("shm-fill", fill)',
        'for f in os.listdir("/dev/shm"): os.unlink("/dev/shm/" + f)',
        'tries("memfd", lambda: os.memfd_create("x"))',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'def sysv(call, *args):',
        '    if call(*args) < 0: raise OSError(ctypes.get_errno(), "refused")',
        'tries("shmget", lambda: sysv(libc.shmget, 0, 1 << 20, 0o1600))',
        'tries("msgget", lambda: sysv(libc.msgget, 0, 0o1600))',
        // What programs do use still works: /dev/null and a small POSIX shared memory segment.
        'open("/dev/null", "w").write("gone")',
        'from multiprocessing import shared_memory',
        'm = shared_memory.SharedMemory(create=True, size=1 << 20); m.buf[0] = 7; print("posix shm", m.buf[0]); m.close(); m.unlink()',
      ].join('\n'),
    );
    const out = run.stdout();
    expect(out, run.stderr()).not.toContain('ALLOWED');
    for (const label of ['dev', 'shm-fill', 'memfd', 'shmget', 'msgget']) expect(out).toContain(`refused ${label}`);
    expect(out).toContain('refused memfd 1'); // EPERM, from the filter
    expect(out).toContain('refused shm-fill 28'); // ENOSPC: the mount is full, not one file too large
    expect(out, run.stderr()).toContain('posix shm 7');
    expect(run.exit.code).toBe(0);
    await assertNodeUnaffected(node);
  });

  it("no secrets: the node's DATA_DIR, environment, project and /root are out of reach", async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const dataDir = node.config.dataDir;
    writeFileSync(join(dataDir, 'jwt-secret'), SECRET);
    const run = await attempt(
        node,
      'javascript',
      [
        "const fs = require('fs');",
        'console.log(JSON.stringify(process.env));',
        `for (const p of [${JSON.stringify(join(dataDir, 'jwt-secret'))}, ${JSON.stringify(join(process.cwd(), 'package.json'))}, '/root', '/proc/1/environ', '/etc/shadow', '/etc/passwd']) {`,
        '  try { console.log("READ", p, fs.readFileSync(p, "utf8").slice(0, 200)); }',
        '  catch (e) { console.log("unreadable", p, e.code); }',
        '}',
        "console.log('root has', fs.readdirSync('/').sort().join(','));",
        "console.log('pids', fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).length);",
      ].join('\n'),
    );
    const out = run.stdout();
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain('DUET_TEST_SECRET');
    expect(out).not.toContain('"name": "duet"');
    expect(out).toContain(`unreadable ${join(dataDir, 'jwt-secret')} ENOENT`);
    expect(out).toContain('unreadable /root ENOENT');
    // /proc/1 is the sandbox's own init (bwrap), whose environment is the launcher's one PATH.
    expect(out).toMatch(/READ \/proc\/1\/environ PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin\0?\s*\n/);
    const root = /root has (.*)/.exec(out)![1]!.split(',');
    expect(root.filter((d) => !['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'dev', 'etc', 'proc', 'tmp', 'usr', 'work'].includes(d))).toEqual([]);
    // The sandbox's PID namespace holds only its own few processes.
    expect(Number(/pids (\d+)/.exec(out)?.[1])).toBeLessThan(6);
    await assertNodeUnaffected(node);
  });

  it('no privileges: no capabilities, no_new_privs, no nested user namespaces, nobody inside', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const run = await attempt(
      node,
      'python',
      [
        'import os, subprocess',
        'status = open("/proc/self/status").read()',
        'print([l for l in status.splitlines() if l.startswith(("CapEff", "CapBnd", "NoNewPrivs", "Uid"))])',
        'r = subprocess.run(["unshare", "-U", "-r", "id"], capture_output=True, text=True)',
        'print("nested userns", "REFUSED" if r.returncode != 0 else "ALLOWED " + r.stdout)',
        'try:',
        '    os.setuid(0)',
        '    print("SETUID WORKED")',
        // EINVAL: uid 0 does not even exist in the sandbox's user namespace.
        'except OSError as e:',
        '    print("setuid refused", type(e).__name__)',
      ].join('\n'),
    );
    const out = run.stdout();
    expect(out).toContain("'CapEff:\\t0000000000000000'");
    expect(out).toContain("'CapBnd:\\t0000000000000000'");
    expect(out).toContain("'NoNewPrivs:\\t1'");
    expect(out).toContain("'Uid:\\t65534\\t65534\\t65534\\t65534'");
    expect(out).toContain('nested userns REFUSED');
    expect(out).toContain('setuid refused');
    await assertNodeUnaffected(node);
  });

  it('a fork bomb hits the process limit and dies with the run', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const run = await attempt(
        node,
      'python',
      [
        'import os, time',
        'me, n, told = os.getpid(), 0, False',
        'while True:',
        '    try:',
        '        os.fork()',
        '        n += 1',
        '    except OSError as e:',
        '        if os.getpid() == me and not told:',
        '            print("fork refused after", n, type(e).__name__, flush=True)',
        '            told = True',
        '        time.sleep(0.01)',
      ].join('\n'),
    );
    // The original process saw the process limit (children fork too, so it got fewer than the limit).
    expect(run.stdout()).toMatch(/fork refused after \d+ BlockingIOError/);
    expect(Number(/after (\d+)/.exec(run.stdout())?.[1])).toBeLessThan(TEST_LIMITS.processes!);
    // It never ends by itself: the wall or CPU limit ends it.
    expect(run.exit.error?.code).toBe('run_timeout');
    expect(run.elapsedMs).toBeLessThan(TEST_LIMITS.wallTimeMs! + 3000);
    await assertNodeUnaffected(node);
  });

  it('an infinite loop ends with run_timeout (CPU), and so does a sleeper (wall time)', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const busy = await attempt(node, 'javascript', 'for (;;) {}\n');
    expect(busy.exit).toMatchObject({ code: null, error: { code: 'run_timeout' } });
    expect(busy.exit.signal).toMatch(/SIGXCPU|SIGKILL/);
    const sleeper = await attempt(node, 'python', 'import time\ntime.sleep(3600)\n');
    expect(sleeper.exit).toMatchObject({ code: null, signal: 'SIGKILL', error: { code: 'run_timeout' } });
    expect(sleeper.exit.durationMs).toBeGreaterThanOrEqual(TEST_LIMITS.wallTimeMs! - 100);
    expect(sleeper.exit.durationMs).toBeLessThan(TEST_LIMITS.wallTimeMs! + 2000);
    await assertNodeUnaffected(node);
  });

  it('memory exhaustion fails inside the run, within the limit', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const py = await attempt(node, 'python', 'a = []\nwhile True:\n    a.append(bytearray(10 ** 7))\n');
    expect(py.exit.code).toBe(1);
    expect(py.stderr()).toContain('MemoryError');
    expect(py.exit.maxRssKb).toBeLessThanOrEqual(TEST_LIMITS.memoryMb! * 1024);
    const js = await attempt(node, 'javascript', 'const a = [];\nfor (;;) a.push(new Array(1e6).fill(1.5));\n');
    expect(js.exit.code === 0).toBe(false);
    expect(js.stderr()).toMatch(/heap out of memory|Allocation failed/i);
    // V8's heap limit is RUNNER_MEMORY_MB; its own overhead comes on top.
    expect(js.exit.maxRssKb).toBeLessThan((TEST_LIMITS.memoryMb! + 128) * 1024);
    await assertNodeUnaffected(node);
  });

  it('an output flood is cut at the limit: truncated, output_truncated, killed', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const run = await attempt(node, 'python', 'while True:\n    print("x" * 1000)\n');
    expect(run.exit).toMatchObject({ truncated: true, signal: 'SIGKILL', error: { code: 'output_truncated' } });
    const received = run.output.reduce((n, o) => n + Buffer.byteLength(o.data), 0);
    expect(received).toBeLessThanOrEqual(TEST_LIMITS.outputBytes!);
    expect(received).toBeGreaterThan(TEST_LIMITS.outputBytes! / 2);
    await assertNodeUnaffected(node);
  });

  it('no process is left behind: background and daemonised children die with the run', async () => {
    const node = await startRunnerNode(ESCAPE_UIDS);
    const marker = '987.6543';
    const run = await attempt(
        node,
      'python',
      [
        'import os, subprocess',
        `subprocess.Popen(["sleep", "${marker}"], start_new_session=True)`,
        'if os.fork() == 0:',
        '    os.setsid()',
        '    if os.fork() == 0:',
        `        os.execvp("sleep", ["sleep", "${marker}1"])`,
        '    os._exit(0)',
        'print("spawned")',
      ].join('\n'),
    );
    expect(run.stdout()).toBe('spawned\n');
    expect(run.exit.code).toBe(0);
    await waitFor(() => hostProcessesWith(marker).length === 0, 5000);
    await assertNodeUnaffected(node);
  });
});
