/**
 * Abuse limits and browser-facing defences: per-IP handshake and REST limits
 * (shared through Redis across nodes), the socket cap per interview, security
 * headers, and the CORS allow-list on REST and Socket.IO.
 */
import { randomBytes } from 'node:crypto';
import * as encoding from 'lib0/encoding';
import type { IncomingMessage } from 'node:http';
import { io as ioc, type Socket } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';
import { createClientIp } from '../server/limits/client-ip.js';
import { REDIS_URL, spawnRedis, uniquePrefix } from './fixtures/services.js';
import { api, createInterview, startNode, waitFor } from './helpers.js';

/** Connects and resolves with 'ok' or the connect_error code. */
function attempt(url: string, token: string, headers: Record<string, string> = {}): Promise<{ outcome: string; socket: Socket }> {
  const socket = ioc(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  onTestFinished(() => {
    socket.disconnect();
  });
  return new Promise((resolve) => {
    socket.once('session' as never, () => resolve({ outcome: 'ok', socket }));
    socket.once('connect_error', (err: Error & { data?: { code: string } }) => resolve({ outcome: err.data?.code ?? err.message, socket }));
  });
}

describe('per-IP limits', () => {
  it('refuses handshakes past HANDSHAKES_PER_MINUTE from one address with rate_limited, refused ones counted too', async () => {
    const node = await startNode({ handshakesPerMinute: 5 });
    const iv = await createInterview(node);
    const token = await iv.invite('candidate');
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await attempt(node.url, token)).outcome);
    for (let i = 0; i < 2; i++) outcomes.push((await attempt(node.url, 'garbage')).outcome);
    outcomes.push((await attempt(node.url, token)).outcome);
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'invalid_token', 'invalid_token', 'rate_limited']);
    // Behind a proxy on loopback, each forwarded client has its own budget.
    expect((await attempt(node.url, token, { 'x-forwarded-for': '203.0.113.7' })).outcome).toBe('ok');
    // REST has its own budget.
    expect((await api(node.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).status).toBe(200);
  });

  it('refuses REST calls past HTTP_REQUESTS_PER_MINUTE with 429 rate_limited and Retry-After; health checks are not limited', async () => {
    const node = await startNode({ httpRequestsPerMinute: 10 });
    const iv = await createInterview(node); // 1 call
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await api(node.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    expect(statuses.slice(9)).toEqual([429, 429, 429]);
    const res = await fetch(`${node.url}/api/interviews`, { headers: { authorization: `Bearer ${iv.token}` } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await api(node.url, '/healthz')).status).toBe(200);
    // Live sockets are not REST calls.
    expect((await attempt(node.url, await node.server.ctx.tokens.sign({ sub: 's', name: 'S', role: 'candidate', iid: iv.interview.id }, 60))).outcome).toBe('ok');
  });

  it('with Redis the limits hold across nodes: one budget for an address, whichever node it calls', async () => {
    const prefix = `duet-abuse-${randomBytes(6).toString('hex')}`;
    const shared = { redisUrl: REDIS_URL, redisKeyPrefix: prefix, handshakesPerMinute: 4 };
    const a = await startNode(shared);
    const b = await startNode({ ...shared, dataDir: a.config.dataDir });
    const iv = await createInterview(a);
    const token = await iv.invite('candidate');
    const outcomes = [];
    for (const node of [a, b, a, b, a, b]) outcomes.push((await attempt(node.url, token)).outcome);
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited']);
  });

  it('with Redis down the limits fall back to each node\'s memory: nobody is locked out, and they still bite', async () => {
    const redis = await spawnRedis();
    const node = await startNode({ redisUrl: redis.url, redisKeyPrefix: uniquePrefix(), handshakesPerMinute: 3, httpRequestsPerMinute: 1000 });
    const iv = await createInterview(node);
    const token = await iv.invite('candidate');
    await redis.stop();
    // The handshake passes the limiter (Redis is not there to ask) and is judged on its token.
    const handshake = () =>
      new Promise<string>((resolve) => {
        const s = ioc(node.url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
        onTestFinished(() => {
          s.disconnect();
        });
        s.once('connect', () => resolve('ok'));
        s.once('connect_error', (err: Error & { data?: { code: string } }) => resolve(err.data?.code ?? err.message));
      });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await handshake());
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect((await api(node.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).status).toBe(200);
    // Redis back before the node closes, so the adapter's queued commands complete (this test is about the limiter).
    await redis.start();
    await waitFor(async () => (await api(node.url, '/readyz')).status === 200, 10_000, 50);
  });

  it('believes X-Forwarded-For only from a proxy on loopback', () => {
    const clientIp = createClientIp(['loopback']);
    const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;
    expect(clientIp(req('198.51.100.2', '1.2.3.4'))).toBe('198.51.100.2');
    expect(clientIp(req('::ffff:198.51.100.2'))).toBe('198.51.100.2');
    expect(clientIp(req('127.0.0.1', '1.2.3.4'))).toBe('1.2.3.4');
    // A client cannot pick its key by prepending: the hop nearest the proxy counts.
    expect(clientIp(req('127.0.0.1', '6.6.6.6, 1.2.3.4'))).toBe('1.2.3.4');
    expect(clientIp(req('::1', '1.2.3.4, 127.0.0.1'))).toBe('1.2.3.4');
    expect(clientIp(req('127.0.0.1'))).toBe('127.0.0.1');
    // TRUST_PROXY names the proxies in front (an ingress in a private range, say).
    const behindIngress = createClientIp(['loopback', '10.0.0.0/8']);
    expect(behindIngress(req('10.1.2.3', '203.0.113.9'))).toBe('203.0.113.9');
    expect(behindIngress(req('10.1.2.3', '203.0.113.9, 10.4.4.4'))).toBe('203.0.113.9');
    expect(clientIp(req('10.1.2.3', '203.0.113.9'))).toBe('10.1.2.3');
  });
});

describe('connection caps', () => {
  it('refuses sockets past MAX_SOCKETS_PER_INTERVIEW with too_many_connections; other interviews and later joins are unaffected', async () => {
    const node = await startNode({ maxSocketsPerInterview: 3 });
    const iv = await createInterview(node);
    const other = await createInterview(node, 'Other');
    const token = await iv.invite('observer');
    const joined = [];
    for (let i = 0; i < 3; i++) joined.push(await attempt(node.url, token));
    expect(joined.map((j) => j.outcome)).toEqual(['ok', 'ok', 'ok']);
    expect((await attempt(node.url, token)).outcome).toBe('too_many_connections');
    expect((await attempt(node.url, await other.invite('observer'))).outcome).toBe('ok');

    // Concurrent handshakes cannot race past the cap either.
    joined[0]!.socket.disconnect();
    const burst = await Promise.all(Array.from({ length: 6 }, () => attempt(node.url, token)));
    const live = () => [...node.server.ctx.io.of('/').sockets.values()].filter((s) => s.data.interviewId === iv.interview.id).length;
    expect(burst.filter((b) => b.outcome === 'ok').length).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(live()).toBeLessThanOrEqual(3);
  });

  it('refuses one person\'s sockets past MAX_SOCKETS_PER_PERSON: one invite cannot take the interview\'s places; others still join', async () => {
    const node = await startNode({ maxSocketsPerInterview: 6, maxSocketsPerPerson: 2 });
    const iv = await createInterview(node);
    const token = await iv.invite('candidate', 'Cy');
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await attempt(node.url, token)).outcome);
    expect(mine).toEqual(['ok', 'ok', 'too_many_connections']);
    // Concurrent handshakes of that person cannot race past it.
    const burst = await Promise.all(Array.from({ length: 5 }, () => attempt(node.url, token)));
    expect(burst.filter((b) => b.outcome === 'ok')).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    const cys = [...node.server.ctx.io.of('/').sockets.values()].filter((s) => s.data.actor.name === 'Cy').length;
    expect(cys).toBe(2);
    // The interviewer and an observer still get in.
    expect((await attempt(node.url, iv.token)).outcome).toBe('ok');
    expect((await attempt(node.url, await iv.invite('observer', 'Obi'))).outcome).toBe('ok');
  });

  it('a connection announces a few cursors per document at most: made-up awareness client ids cannot fill the node', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const socket = ioc(node.url, { auth: { token: await iv.invite('candidate') }, transports: ['websocket'], forceNew: true, reconnection: false });
    onTestFinished(() => void socket.disconnect());
    await new Promise((resolve) => socket.once('session', resolve));
    // y-protocols' layout: entries of (client id, clock, JSON state).
    const update = (ids: number[], state: unknown) => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, ids.length);
      for (const id of ids) {
        encoding.writeVarUint(encoder, id);
        encoding.writeVarUint(encoder, 1);
        encoding.writeVarString(encoder, JSON.stringify(state));
      }
      return encoding.toUint8Array(encoder);
    };
    const send = async (ids: number[], state: unknown = { cursor: { file: 'x'.repeat(100), selections: [] } }) =>
      ((await socket.emitWithAck('awareness', { doc: 'main', update: update(ids, state) })) as any).error?.code ?? 'ok';
    const awareness = async () => (await node.server.ctx.rooms.peek(iv.interview.id))!.awareness('main');
    const held = async () => (await awareness()).getStates().size;
    // Removals count too: y-protocols keeps a record of every id it hears of.
    const records = (await awareness()).meta.size;
    expect(await send(Array.from({ length: 500 }, (_, i) => 5000 + i), null)).toBe('invalid_payload');
    expect((await awareness()).meta.size).toBe(records);
    // Fifty at once, or one more at a time: the node keeps four.
    expect(await send(Array.from({ length: 50 }, (_, i) => 1000 + i))).toBe('invalid_payload');
    expect(await held()).toBe(0);
    const outcomes = [];
    for (let id = 1; id <= 6; id++) outcomes.push(await send([id]));
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'invalid_payload', 'invalid_payload']);
    expect(await held()).toBe(4);
    // Its own ids, again and again, are fine.
    expect(await send([1, 2, 3, 4])).toBe('ok');
  });

  it('parses the abuse settings from the environment', () => {
    const c = loadConfig({ CORS_ORIGINS: 'https://app.example.com/, http://localhost:5173/x', MAX_SOCKETS_PER_INTERVIEW: '7', MAX_SOCKETS_PER_PERSON: '3', HANDSHAKES_PER_MINUTE: '60', WRITE_BYTES_PER_SECOND: '2048' });
    expect(c.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect([c.maxSocketsPerInterview, c.maxSocketsPerPerson, c.writeBytesPerSecond]).toEqual([7, 3, 2048]);
    expect(c.handshakesPerMinute).toBe(60);
    const d = loadConfig({});
    expect([d.handshakesPerMinute, d.httpRequestsPerMinute, d.maxSocketsPerInterview, d.maxSocketsPerPerson, d.socketSendBufferBytes]).toEqual([600, 1200, 100, 10, 16 * 1024 * 1024]);
    expect([d.writeBytesPerSecond, d.writeBytesBurst]).toEqual([16 * 1024, 4 * 1024 * 1024]);
    expect(d.corsOrigins).toEqual([]);
    expect(() => loadConfig({ CORS_ORIGINS: 'javascript:alert(1)' })).toThrow(ConfigError);
    expect(() => loadConfig({ SOCKET_SEND_BUFFER_BYTES: '100' })).toThrow(/SOCKET_SEND_BUFFER_BYTES/);
  });
});

describe('browser-facing defences', () => {
  it('sends security headers with a CSP the Monaco client can live with', async () => {
    const node = await startNode();
    for (const path of ['/', '/api/interviews', '/healthz']) {
      const res = await fetch(node.url + path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("worker-src 'self' blob:");
      expect(csp).toContain("style-src 'self' 'unsafe-inline'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-powered-by')).toBeNull();
      // Plain http: no HSTS (a browser would ignore it, and it must not leak to other subdomains).
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
    const https = await startNode({ publicUrl: 'https://duet.example.com' });
    const res = await fetch(https.url + '/healthz');
    expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d+$/);
    expect(res.headers.get('content-security-policy')).toContain('connect-src \'self\' wss://duet.example.com');
  });

  it('CORS: no other origin by default, on REST and Socket.IO; CORS_ORIGINS opens both to the listed ones only', async () => {
    const closed = await startNode();
    const iv = await createInterview(closed);
    const token = await iv.invite('candidate');
    const evil = { origin: 'http://evil.example' };
    const r1 = await fetch(`${closed.url}/api/interviews`, { headers: { ...evil, authorization: `Bearer ${iv.token}` } });
    expect(r1.headers.get('access-control-allow-origin')).toBeNull();
    expect((await attempt(closed.url, token, evil)).outcome).toBe('forbidden');
    // Its own origin (the node serves the client) is always fine.
    expect((await attempt(closed.url, token, { origin: closed.url })).outcome).toBe('ok');

    const open = await startNode({ corsOrigins: ['http://app.example'] });
    const iv2 = await createInterview(open);
    const pre = await fetch(`${open.url}/api/interviews`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const get = await fetch(`${open.url}/api/interviews/${iv2.interview.id}`, { headers: { origin: 'http://app.example', authorization: `Bearer ${iv2.token}` } });
    expect(get.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(get.headers.get('vary')).toMatch(/origin/i);
    const bad = await fetch(`${open.url}/api/interviews`, { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'POST' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    const t2 = await iv2.invite('candidate');
    expect((await attempt(open.url, t2, { origin: 'http://app.example' })).outcome).toBe('ok');
    expect((await attempt(open.url, t2, evil)).outcome).toBe('forbidden');
    // Non-browser clients send no Origin: their token decides.
    const s = (await attempt(open.url, t2)).socket;
    expect(s.connected).toBe(true);
  });
});
