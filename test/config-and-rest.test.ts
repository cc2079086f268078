import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';
import { LIMITS } from '../shared/limits.js';
import { api, connectClient, createInterview, interviewerToken, mainFile, startNode, tempDir, waitFor } from './helpers.js';
import { duetNodeArgs } from '../bench/systems/cluster.js';
import { startCommandHere } from './fixtures/processes.js';
import { PG_URL } from './fixtures/services.js';

/** A file where a directory is wanted. */
function writeTempFile(): string {
  const file = join(tempDir(), 'not-a-directory');
  writeFileSync(file, '');
  return file;
}

const run = promisify(execFile);

describe('configuration', () => {
  it('has working defaults with no environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, dataDir: './data', logLevel: 'info', jwtSecret: undefined });
  });

  it('stops on a bad value with one line naming the variable, without echoing secrets', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/^Invalid PORT="70000"/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ PUBLIC_URL: 'not a url' })).toThrow(/PUBLIC_URL/);
    // Invite links are made from it: a scheme browsers open, and no path (the client is served at the root).
    expect(() => loadConfig({ PUBLIC_URL: 'localhost:3000' })).toThrow(/^Invalid PUBLIC_URL="localhost:3000": must be an http/);
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://duet.example.org' })).toThrow(/must be an http/);
    expect(() => loadConfig({ PUBLIC_URL: 'https://duet.example.org/duet/' })).toThrow(/must have no path/);
    expect(loadConfig({ PUBLIC_URL: 'https://duet.example.org/' }).publicUrl).toBe('https://duet.example.org');
    expect(() => loadConfig({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n' })).toThrow(
      /^Invalid JWT_PUBLIC_KEY: is not an RSA public key of 2048 bits or more that can be read/,
    );
    // RS256 takes RSA keys of 2048 bits or more: another key would fail at start, or at every token.
    const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadConfig({ JWT_PUBLIC_KEY: rsa(2048) }).jwtPublicKey).toContain('BEGIN PUBLIC KEY');
    expect(() => loadConfig({ JWT_PUBLIC_KEY: rsa(1024) })).toThrow(/^Invalid JWT_PUBLIC_KEY/);
    expect(() => loadConfig({ JWT_PUBLIC_KEY: ec })).toThrow(/^Invalid JWT_PUBLIC_KEY/);
    expect(() => loadConfig({ TRUST_PROXY: 'loopback,not-an-address' })).toThrow(/^Invalid TRUST_PROXY/);
    // A burst below one full-size update would never let a paste that large be stored.
    expect(() => loadConfig({ WRITE_BYTES_BURST: '65536' })).toThrow(/^Invalid WRITE_BYTES_BURST="65536": must be at least 1048576/);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
    // Under 3 s a busy machine's event-loop lag could pass for a dead node; over an hour no one would notice a dead one.
    expect(() => loadConfig({ NODE_DEAD_AFTER_SECONDS: '2' })).toThrow(/^Invalid NODE_DEAD_AFTER_SECONDS="2": .*>=3/);
    expect(() => loadConfig({ NODE_DEAD_AFTER_SECONDS: '3601' })).toThrow(/^Invalid NODE_DEAD_AFTER_SECONDS="3601"/);
    expect(() => loadConfig({ NODE_DEAD_AFTER_SECONDS: 'soon' })).toThrow(/^Invalid NODE_DEAD_AFTER_SECONDS/);
    expect(loadConfig({}).nodeDeadAfterMs).toBe(60_000);
    expect(loadConfig({ NODE_DEAD_AFTER_SECONDS: '10' }).nodeDeadAfterMs).toBe(10_000);
    expect(loadConfig({}).pingIntervalMs).toBe(10_000);
    expect(loadConfig({ PING_INTERVAL_SECONDS: '2' }).pingIntervalMs).toBe(2_000);
    expect(() => loadConfig({ PING_INTERVAL_SECONDS: '0' })).toThrow(/^Invalid PING_INTERVAL_SECONDS="0"/);
    expect(() => loadConfig({ PING_INTERVAL_SECONDS: '15' })).toThrow(/^Invalid PING_INTERVAL_SECONDS="15"/);
    try {
      loadConfig({ JWT_SECRET: 'short-secret' });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).toMatch(/^Invalid JWT_SECRET: /);
      expect(String((err as Error).message)).not.toContain('short-secret');
    }
  });

  it('names every bad variable at once, the runner\'s too, one line each', () => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', JWT_SECRET: 'short-secret', RUNNER_TIMEOUT_MS: 'soon' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const { problems } = err as ConfigError;
      expect(problems.map((p) => p.split(/[=:]/)[0]).sort()).toEqual(['Invalid JWT_SECRET', 'Invalid LOG_LEVEL', 'Invalid PORT', 'Invalid RUNNER_TIMEOUT_MS']);
      expect((err as Error).message.split('\n')).toEqual(problems);
      expect((err as Error).message).not.toContain('short-secret');
    }
    // A secret missing beside REDIS_URL is named with the rest, not after they are fixed.
    try {
      loadConfig({ LOG_LEVEL: 'loud', REDIS_URL: 'redis://redis:6379' });
      expect.unreachable();
    } catch (err) {
      const { problems } = err as ConfigError;
      expect(problems.map((p) => p.split(/[=:]/)[0]).sort()).toEqual(['Invalid JWT_SECRET', 'Invalid LOG_LEVEL']);
      expect((err as Error).message.split('\n')).toEqual(problems);
      expect((err as Error).message).not.toContain('short-secret');
    }
  });

  it('a node that cannot start says why in one line naming the setting, and exits 1', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const start = (env: Record<string, string>) =>
      run(process.execPath, duetNodeArgs(startCommandHere()), {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDir(), LOG_LEVEL: 'warn', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
    try {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ PORT: String(port) }, new RegExp(`^duet: Could not start: port ${port} on 127\\.0\\.0\\.1 is in use .*set PORT\n$`)],
        [{ HOST: '10.255.255.254' }, /^duet: Could not start: HOST 10\.255\.255\.254 is not an address of this machine/],
        [{ DATA_DIR: writeTempFile() }, /^duet: Could not start: cannot keep data in DATA_DIR \(.*\): EEXIST/],
        [{ DATABASE_URL: `${PG_URL.replace(/\/[^/]*$/, '')}/duet_no_such_database_${process.pid}` }, /^duet: Could not start: cannot use the database at DATABASE_URL: database "duet_no_such_database_\d+" does not exist\n$/],
      ];
      for (const [env, message] of cases) {
        const { code, stderr } = await start(env);
        expect(code, stderr).toBe(1);
        expect(stderr).toMatch(message);
        expect(stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      taken.close();
    }
  }, 90_000);

  it('generates a JWT secret once and keeps it in the data directory, which only its user may read', async () => {
    const dataDir = join(tempDir(), 'data');
    const node = await startNode({ dataDir, jwtSecret: undefined });
    const file = join(dataDir, 'jwt-secret');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The SQLite files in it hold code, chat and the panel's notes.
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const secret = readFileSync(file, 'utf8');
    const token = await interviewerToken(node);
    await node.close();
    const again = await startNode({ dataDir, jwtSecret: undefined });
    expect(readFileSync(file, 'utf8')).toBe(secret);
    expect((await api(again.url, '/api/interviews', { token })).status).toBe(200);
  });

  it("`npm run token` mints tokens this node accepts, and a new token for the same name still lists that person's interviews", async () => {
    const dataDir = tempDir();
    const node = await startNode({ dataDir, jwtSecret: undefined });
    // Not execFileSync: blocking this process (the node's too) for seconds let
    // the node close fetch's idle keep-alive socket just as the next request
    // went out on it (ECONNRESET, seen with three test files at once).
    const mint = async (...args: string[]) =>
      (
        await run(process.execPath, ['--import', 'tsx', 'server/cli/token.ts', ...args], {
          env: { ...process.env, DATA_DIR: dataDir, JWT_SECRET: '' },
          encoding: 'utf8',
        })
      ).stdout.trim();
    const first = await mint('--role', 'interviewer', '--name', 'Ada');
    const made = await api(node.url, '/api/interviews', { token: first, body: { title: 'Kept' } });
    expect(made.status).toBe(201);
    const later = await mint('--role', 'interviewer', '--name', 'Ada', '--ttl', '600');
    expect(later).not.toBe(first);
    expect((await api(node.url, '/api/interviews', { token: later })).body.interviews.map((i: { id: string }) => i.id)).toEqual([made.body.id]);
    // Another name, or the same name under another --sub, is another person.
    for (const other of await Promise.all([mint('--name', 'Bea'), mint('--name', 'Ada', '--sub', 'ada-2')])) {
      expect((await api(node.url, '/api/interviews', { token: other })).body.interviews).toEqual([]);
    }
    // --iid scopes the token to one interview; one Duet could not have made is refused there and then.
    const scoped = await mint('--role', 'interviewer', '--name', 'Ada', '--iid', made.body.id);
    expect((await api(node.url, `/api/interviews/${made.body.id}`, { token: scoped })).status).toBe(200);
    // One id in 64 starts with "-": it is the option's value, not another option.
    const dashed = await node.server.ctx.tokens.verify(await mint('--name', 'Ada', '--iid', '-P4bItqSCIPY', '--sub', '-ada'));
    expect(dashed).toMatchObject({ iid: '-P4bItqSCIPY', sub: '-ada', name: 'Ada' });
    await expect(mint('--iid', '--name', 'Ada')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("Did you forget to specify the option argument for '--iid'") });
    // A mistyped option after one that takes a value is not taken for that value.
    await expect(mint('--name', 'Ada', '--sub', '--nmae')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("Did you forget to specify the option argument for '--sub'") });
    await expect(mint('--name', 'Ada', '--iid', 'two sum')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--iid: not an id Duet makes') });
    // With a DATA_DIR no node has used, the token is made all the same, and the CLI says what it means.
    const [, help, elsewhere] = await Promise.all([
      expect(mint('--role', 'interviewer')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--name: is required') }),
      mint('--help'),
      run(process.execPath, ['--import', 'tsx', 'server/cli/token.ts', '--name', 'Ada'], {
        env: { ...process.env, DATA_DIR: join(tempDir(), 'other'), JWT_SECRET: '' },
        encoding: 'utf8',
      }),
    ]);
    expect(help).toMatch(/^usage: npm run token -- --role/);
    expect(elsewhere.stderr).toMatch(/^token: made a new secret in .*other\/jwt-secret: only a node started with this DATA_DIR/);
    expect((await api(node.url, '/api/interviews', { token: elsewhere.stdout.trim() })).status).toBe(401);
  }, 120_000); // a dozen CLI processes, each compiling the CLI with tsx
});

describe('REST contract', () => {
  it('creates, lists and reads interviews; invites carry absolute URLs with the token in the fragment', async () => {
    const node = await startNode({ publicUrl: 'https://duet.example.org' });
    const owner = await interviewerToken(node);
    const created = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Graphs', language: 'go' } });
    expect(created).toMatchObject({
      status: 201,
      body: { id: expect.any(String), title: 'Graphs', language: 'go', status: 'open', createdAt: expect.any(String), token: expect.any(String) },
    });
    const defaulted = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Default' } });
    expect(defaulted.body.language).toBe('python');
    const { id, token } = created.body;

    const list = await api(node.url, '/api/interviews', { token: owner });
    expect(list.body).toMatchObject({ next: null });
    expect(list.body.interviews.map((i: any) => i.title)).toEqual(['Default', 'Graphs']);
    // A page at a time: `next` is the cursor of the one after.
    const first = await api(node.url, '/api/interviews?limit=1', { token: owner });
    expect(first.body.interviews.map((i: any) => i.title)).toEqual(['Default']);
    expect(first.body.next).toEqual(expect.any(Number));
    const second = await api(node.url, `/api/interviews?limit=1&before=${first.body.next}`, { token: owner });
    expect(second.body).toMatchObject({ interviews: [{ title: 'Graphs' }], next: null });
    // Found by a part of the title, in any case; a blank search is none.
    expect((await api(node.url, '/api/interviews?q=gRaPh', { token: owner })).body).toMatchObject({ interviews: [{ title: 'Graphs' }], next: null });
    expect((await api(node.url, '/api/interviews?q=%20%20', { token: owner })).body.interviews).toHaveLength(2);
    expect((await api(node.url, '/api/interviews?q=trees', { token: owner })).body).toEqual({ interviews: [], next: null });
    expect((await api(node.url, `/api/interviews?q=${'x'.repeat(LIMITS.titleChars + 1)}`, { token: owner })).status).toBe(413);
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'before=0', 'before=-3', 'before=1e300', 'page=2', 'q=a%00b', 'q=a&q=b']) {
      const bad = await api(node.url, `/api/interviews?${query}`, { token: owner });
      expect({ query, status: bad.status, code: bad.body.error?.code }).toEqual({ query, status: 400, code: 'invalid_payload' });
    }
    // A token scoped to an interview lists that one.
    expect((await api(node.url, '/api/interviews', { token })).body).toMatchObject({ interviews: [{ id }], next: null });
    expect((await api(node.url, '/api/interviews?q=GRAPHS', { token })).body).toMatchObject({ interviews: [{ id }], next: null });
    expect((await api(node.url, '/api/interviews?q=Default', { token })).body).toEqual({ interviews: [], next: null });

    for (const role of ['candidate', 'observer', 'interviewer'] as const) {
      const invite = await api(node.url, `/api/interviews/${id}/invites`, { token, body: { role, name: 'Pat', expiresIn: 600 } });
      expect(invite.status).toBe(201);
      expect(invite.body.url).toBe(`https://duet.example.org/room/${id}#token=${invite.body.token}`);
      const claims = await node.server.ctx.tokens.verify(invite.body.token);
      expect(claims).toMatchObject({ role, name: 'Pat', iid: id });
      expect(claims.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(600);
    }
    const reviewer = await api(node.url, `/api/interviews/${id}/invites`, { token, body: { role: 'reviewer', name: 'Panel' } });
    expect(reviewer.body.url).toBe(`https://duet.example.org/replay/${id}#token=${reviewer.body.token}`);

    // The seed of `main` is the first doc event, by the creator.
    const events = await api(node.url, `/api/interviews/${id}/events`, { token });
    expect(events.body.events[0]).toMatchObject({ seq: 1, type: 'doc', actor: { name: 'Ada', role: 'interviewer' }, data: { doc: 'main' } });
    expect((await api(node.url, `/api/interviews/${id}/document`, { token })).body).toEqual({ files: { 'main.go': '' } });
  });

  it('starts an interview from starter code: in its one file, the log\'s first event, for every client; bad starter code changes nothing', async () => {
    const node = await startNode();
    const owner = await interviewerToken(node);
    const starterCode = 'def solve(xs):\r\n    # your code here\r\n    pass\n';
    const created = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Two sum', language: 'python', starterCode } });
    expect(created.status).toBe(201);
    const { id, token } = created.body;
    const expected = 'def solve(xs):\n    # your code here\n    pass\n';
    expect((await api(node.url, `/api/interviews/${id}/document`, { token })).body).toEqual({ files: { 'main.py': expected } });
    const events = await api(node.url, `/api/interviews/${id}/events`, { token });
    expect(events.body.events.map((e: { seq: number; type: string }) => [e.seq, e.type])).toEqual([[1, 'doc']]);
    // A candidate's client starts from it and edits it like any text.
    const candidate = await connectClient(node.url, (await api(node.url, `/api/interviews/${id}/invites`, { token, body: { role: 'candidate', name: 'Cy' } })).body.token);
    expect(mainFile(candidate).toString()).toBe(expected);
    mainFile(candidate).insert(expected.indexOf('pass'), 'return sorted(xs)\n    ');
    await waitFor(async () => (await api(node.url, `/api/interviews/${id}/document`, { token })).body.files['main.py'].includes('return sorted(xs)'));

    // A template saved with a byte order mark: Monaco's model would drop it, so the document does too.
    const bom = await api(node.url, '/api/interviews', { token: owner, body: { title: 'BOM', starterCode: '\uFEFFprint(1)\n' } });
    expect((await api(node.url, `/api/interviews/${bom.body.id}/document`, { token: owner })).body).toEqual({ files: { 'main.py': 'print(1)\n' } });
    // The longest starter code fits its body whatever its characters (two bytes each here: over the 64 KiB other bodies get).
    const longest = 'é'.repeat(LIMITS.starterCodeChars);
    const big = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Longest', starterCode: longest } });
    expect(big.status).toBe(201);
    expect((await api(node.url, `/api/interviews/${big.body.id}/document`, { token: owner })).body.files['main.py']).toBe(longest);

    const before = (await api(node.url, '/api/interviews', { token: owner })).body.interviews.length;
    for (const [body, status, code] of [
      [{ title: 'Too long', starterCode: 'x'.repeat(LIMITS.starterCodeChars + 1) }, 413, 'too_large'],
      [{ title: 'Not text', starterCode: ['print(1)'] }, 400, 'invalid_payload'],
      [{ title: 'Not text', starterCode: 42 }, 400, 'invalid_payload'],
    ] as const) {
      const res = await api(node.url, '/api/interviews', { token: owner, body });
      expect([res.status, res.body.error.code]).toEqual([status, code]);
    }
    expect((await api(node.url, '/api/interviews', { token: owner })).body.interviews.length).toBe(before);
  });

  it('pages the event log with after and next without skipping', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    for (let i = 0; i < 25; i++) mainFile(cand).insert(0, 'x');
    await waitFor(() => cand.provider.pending === 0);
    const seqs: number[] = [];
    let after = 0;
    for (;;) {
      const page = await api(node.url, `/api/interviews/${iv.interview.id}/events?after=${after}&limit=7`, { token: iv.token });
      seqs.push(...page.body.events.map((e: any) => e.seq));
      for (const e of page.body.events) expect(new Date(e.at).toISOString()).toBe(e.at);
      if (page.body.next === null) break;
      after = page.body.next;
    }
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(27); // seed + join + 25 edits
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    mainFile(cand).insert(0, 'x');
    await waitFor(() => cand.provider.pending === 0);
    await cand.socket.emitWithAck('chat:send', { channel: 'panel', text: 'no' });
    await (cand.socket as any).emitWithAck('no:such', {});
    expect(await api(node.url, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await api(node.url, '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    const metrics = (await api(node.url, '/metrics')).body as string;
    expect(metrics).toMatch(/^duet_sockets 1$/m);
    expect(metrics).toMatch(/^duet_rooms 1$/m);
    expect(metrics).toMatch(/^duet_doc_updates_total\{doc="main"\} 1$/m);
    expect(metrics).toMatch(/^duet_errors_total\{code="forbidden"\} 1$/m);
    expect(metrics).toMatch(/^duet_store_write_seconds_count \d+$/m);
    expect(metrics).toMatch(/^duet_client_events_total\{event="doc:update"\} 1$/m);
    expect(metrics).toMatch(/^duet_client_events_total\{event="chat:send"\} 1$/m);
    expect(metrics).toMatch(/^duet_client_events_total\{event="unknown"\} 1$/m);
    // The process's own metrics, shared by the nodes this process builds, and each node's counts its own.
    expect(metrics).toMatch(/^duet_process_process_cpu_user_seconds_total [\d.e-]+$/m);
    expect(metrics).toMatch(/^duet_process_nodejs_eventloop_lag_p99_seconds [\d.e-]+$/m);
    const other = await startNode();
    const otherMetrics = (await api(other.url, '/metrics')).body as string;
    expect(otherMetrics).toMatch(/^duet_process_nodejs_heap_size_used_bytes \d+$/m);
    expect(otherMetrics).toMatch(/^duet_sockets 0$/m);
  });
});
