/**
 * The auth attack matrix, beyond test/auth.test.ts (alg none, wrong key,
 * expired, unscoped, reviewer live, revoked invite) and test/roles.test.ts:
 * HS/RS key confusion against a node with a real RSA public key, foreign and
 * embedded keys, other algorithms, not-yet-valid tokens, malformed claims,
 * tokens in the wrong place, roles and interview ids smuggled into payloads,
 * every role emitting what it may not, and tokens used after the end. Each
 * refusal carries its code, and no refusal leaks the token, key material or
 * internals.
 */
import { createPublicKey } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { io as ioc } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import * as Y from 'yjs';
import { api, connectClient, connectSocket, createInterview, interviewerToken, mainFile, nextEvent, refusal, startNode, TEST_SECRET, waitFor } from './helpers.js';

const now = () => Math.floor(Date.now() / 1000);

/** A refusal must say why, and nothing else. */
function expectClean(message: string, ...secrets: string[]) {
  expect(message.length).toBeLessThan(200);
  expect(message).not.toMatch(/\n\s+at |node_modules|BEGIN |PRIVATE|stack/i);
  expect(message).not.toContain(TEST_SECRET);
  for (const s of secrets) expect(message).not.toContain(s);
}

async function refusedWith(url: string, token: string, code: string) {
  const r = await refusal(url, token);
  expect(r.code, `${r.code}: ${r.message}`).toBe(code);
  expectClean(r.message, token);
  const rest = await api(url, '/api/interviews', { token });
  expect(rest.status).toBe(401);
  expectClean(rest.body.error.message, token);
}

describe('token attacks', () => {
  it('RS256 with a configured public key: its own tokens work, HS/RS confusion, foreign and embedded keys and other algorithms do not', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const node = await startNode({ jwtPublicKey: pem });
    const iv = await createInterview(node);
    const claims = { sub: 'idp-user-1', name: 'From the IdP', role: 'candidate', iid: iv.interview.id, exp: now() + 600 };

    // The organisation's identity provider signs with its private key: accepted.
    const good = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const ok = connectSocket(node.url, good);
    expect((await nextEvent<any>(ok, 'session')).you).toEqual({ sub: 'idp-user-1', name: 'From the IdP', role: 'candidate' });

    // The classic confusion: HS256 "signed" with the public key (PEM text, and DER bytes) as the HMAC secret.
    await refusedWith(node.url, await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem)), 'invalid_token');
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    await refusedWith(node.url, await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(der)), 'invalid_token');

    // Another RSA key; the attacker's key embedded in the header (jwk) or pointed at (jku, kid).
    const other = await generateKeyPair('RS256', { extractable: true });
    await refusedWith(node.url, await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey), 'invalid_token');
    const jwk = await exportJWK(other.publicKey);
    await refusedWith(
      node.url,
      await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', jwk, jku: 'http://127.0.0.1:1/keys', kid: 'evil' }).sign(other.privateKey),
      'invalid_token',
    );

    // Algorithms the node does not take, even when correctly signed.
    const { privateKey: psKey } = await generateKeyPair('PS256');
    await refusedWith(node.url, await new SignJWT(claims).setProtectedHeader({ alg: 'PS256' }).sign(psKey), 'invalid_token');
    const { privateKey: esKey } = await generateKeyPair('ES256');
    await refusedWith(node.url, await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(esKey), 'invalid_token');
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    await refusedWith(node.url, `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`, 'invalid_token');

    // The node's own HS256 tokens keep working beside RS256.
    const invite = await iv.invite('observer', 'Olga');
    const obs = connectSocket(node.url, invite);
    expect((await nextEvent<any>(obs, 'session')).you.role).toBe('observer');
  });

  it('without a configured public key, RS256 tokens are refused', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'x', name: 'X', role: 'candidate', iid: iv.interview.id, exp: now() + 600 })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey);
    await refusedWith(node.url, token, 'invalid_token');
  });

  it('refuses not-yet-valid, malformed-claim and over-privileged tokens, and tokens in the wrong place', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const secret = new TextEncoder().encode(TEST_SECRET);
    const sign = (c: Record<string, unknown>) => new SignJWT(c).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    const base = { sub: 'u1', name: 'Eve', role: 'candidate', iid: iv.interview.id, exp: now() + 600 };

    await refusedWith(node.url, await sign({ ...base, nbf: now() + 3600 }), 'invalid_token');
    await refusedWith(node.url, await sign({ ...base, iid: 12345 }), 'invalid_token');
    await refusedWith(node.url, await sign({ ...base, sub: '' }), 'invalid_token');
    await refusedWith(node.url, await sign({ ...base, name: 'x'.repeat(1000) }), 'invalid_token');
    await refusedWith(node.url, await sign({ ...base, role: ['interviewer'] }), 'invalid_token');
    await refusedWith(node.url, await sign({ ...base, exp: 'never' }), 'invalid_token');
    // A token signed with the right secret but tampered with afterwards.
    const genuine = await sign(base);
    const [h, , s] = genuine.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...base, role: 'interviewer' })).toString('base64url')}.${s}`;
    await refusedWith(node.url, forged, 'invalid_token');

    // A scoped admin token is still not a live role.
    expect((await refusal(node.url, await sign({ ...base, role: 'admin' }))).code).toBe('forbidden');

    // Tokens are read from auth.token and the Authorization header only.
    const viaQuery = ioc(node.url, { query: { token: genuine }, transports: ['websocket'], forceNew: true, reconnection: false });
    onTestFinished(() => {
      viaQuery.disconnect();
    });
    const err = await new Promise<any>((resolve) => viaQuery.on('connect_error', (e: any) => resolve(e.data)));
    expect(err.code).toBe('unauthorized');
    expect(await api(node.url, `/api/interviews?token=${genuine}`)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await api(node.url, `/api/interviews/${iv.interview.id}?access_token=${iv.token}`)).status).toBe(401);
  });
});

describe('payload attacks', () => {
  it('a role, actor or interview id smuggled into a payload is refused and changes nothing anywhere', async () => {
    const node = await startNode();
    const a = await createInterview(node, 'A');
    const b = await createInterview(node, 'B');
    const cand = await connectClient(node.url, await a.invite('candidate', 'Cy'));
    const logOf = async (iv: typeof a) => (await api(node.url, `/api/interviews/${iv.interview.id}/events`, { token: iv.token })).body.events.length;
    const [beforeA, beforeB] = [await logOf(a), await logOf(b)];
    const smuggled = [
      { role: 'interviewer' },
      { iid: b.interview.id },
      { interviewId: b.interview.id },
      { actor: { sub: 'ada', name: 'Ada', role: 'interviewer' } },
      { from: { sub: 'ada', name: 'Ada', role: 'interviewer' } },
      { sub: 'ada' },
    ];
    for (const extra of smuggled) {
      const replies = [
        await cand.socket.emitWithAck('chat:send', { channel: 'panel', text: 'hire me', ...extra } as any),
        await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'as Ada', ...extra } as any),
        await cand.socket.emitWithAck('doc:update', { doc: 'notes', update: new Uint8Array([0, 0]), ...extra } as any),
        await cand.socket.emitWithAck('doc:sync', { doc: 'notes', stateVector: new Uint8Array([0]), ...extra } as any),
        await cand.socket.emitWithAck('interview:language', { language: 'go', ...extra } as any),
        await cand.socket.emitWithAck('run:settings', { candidateMayRun: true, ...extra } as any),
      ];
      for (const r of replies) {
        expect(r).toMatchObject({ error: { code: 'invalid_payload' } });
        expectClean((r as any).error.message);
      }
    }
    // REST bodies are strict too.
    const inv = await api(node.url, `/api/interviews/${a.interview.id}/invites`, { token: a.token, body: { role: 'candidate', name: 'x', iid: b.interview.id } });
    expect(inv).toMatchObject({ status: 400, body: { error: { code: 'invalid_payload' } } });
    const created = await api(node.url, '/api/interviews', { token: await interviewerToken(node), body: { title: 't', createdBy: { sub: 'root' } } });
    expect(created.status).toBe(400);

    expect([await logOf(a), await logOf(b)]).toEqual([beforeA, beforeB]);
    // And the candidate still acts, as itself, in its own interview only.
    const sent = await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello' });
    expect(sent).toMatchObject({ message: { from: { name: 'Cy', role: 'candidate' } } });
    expect(await logOf(b)).toBe(beforeB);
  });

  it('each live role is refused, with forbidden, every event it may not send', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const sv = Y.encodeStateVector(new Y.Doc());
    const notesUpdate = (() => {
      const d = new Y.Doc();
      d.getText('notes').insert(0, 'FORGED NOTE');
      return Y.encodeStateAsUpdate(d);
    })();
    const awarenessNotes = new Uint8Array([1, 5, 1, 2, 123, 125]); // one entry: client 5, clock 1, state {}

    const cand = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const obs = await connectClient(node.url, await iv.invite('observer', 'Olga'), ['main', 'notes']);
    const ida = await connectClient(node.url, await iv.invite('interviewer', 'Ida'), ['main', 'notes']);
    const mainEdit = (() => {
      const d = new Y.Doc();
      Y.applyUpdate(d, Y.encodeStateAsUpdate(cand.provider.doc('main')));
      const sv0 = Y.encodeStateVector(d);
      [...d.getMap<Y.Text>('files').values()][0]!.insert(0, 'FORGED');
      return Y.encodeStateAsUpdate(d, sv0);
    })();

    const matrix: Array<[string, typeof cand, string, unknown]> = [
      ['candidate', cand, 'doc:sync', { doc: 'notes', stateVector: sv }],
      ['candidate', cand, 'doc:update', { doc: 'notes', update: notesUpdate }],
      ['candidate', cand, 'awareness', { doc: 'notes', update: awarenessNotes }],
      ['candidate', cand, 'chat:send', { channel: 'panel', text: 'psst' }],
      ['candidate', cand, 'run:settings', { candidateMayRun: true }],
      ['observer', obs, 'doc:update', { doc: 'main', update: mainEdit }],
      ['observer', obs, 'chat:send', { channel: 'room', text: 'hi' }],
      ['observer', obs, 'interview:language', { language: 'go' }],
      ['observer', obs, 'run:start', {}],
      ['observer', obs, 'run:stop', { runId: 'r1' }],
      ['observer', obs, 'run:settings', { candidateMayRun: false }],
      ['observer', obs, 'signal:report', { kind: 'paste', size: 10 }],
      ['interviewer', ida, 'signal:report', { kind: 'blur' }],
    ];
    for (const [role, client, event, payload] of matrix) {
      const reply = await (client.socket as any).emitWithAck(event, payload);
      expect(reply?.error?.code, `${role} ${event}: ${JSON.stringify(reply)}`).toBe('forbidden');
      expectClean(reply.error.message);
    }
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(JSON.stringify(doc.body)).not.toContain('FORGED');
    await waitFor(() => ida.provider.pending === 0);
    expect(ida.provider.doc('notes').getText('notes').toString()).not.toContain('FORGED');
    expect(ida.text()).not.toContain('FORGED');
  });
});

describe('tokens after the end', () => {
  it('an invite minted before the end still joins, read-only: every write is refused with interview_ended', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const candToken = await iv.invite('candidate', 'Cy');
    const obsToken = await iv.invite('observer', 'Olga');
    const first = await connectClient(node.url, candToken);
    mainFile(first).insert(0, 'answer');
    await waitFor(() => first.provider.pending === 0);
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    const eventsBefore = (await api(node.url, `/api/interviews/${iv.interview.id}/events`, { token: iv.token })).body.events.length;

    const late = await connectClient(node.url, candToken);
    expect(late.provider.session?.interview.status).toBe('ended');
    expect(late.text()).toBe('answer');
    const edit = (() => {
      const d = new Y.Doc();
      Y.applyUpdate(d, Y.encodeStateAsUpdate(late.provider.doc('main')));
      const sv0 = Y.encodeStateVector(d);
      [...d.getMap<Y.Text>('files').values()][0]!.insert(0, 'after the bell: ');
      return Y.encodeStateAsUpdate(d, sv0);
    })();
    const writes: Array<[string, unknown]> = [
      ['doc:update', { doc: 'main', update: edit }],
      ['chat:send', { channel: 'room', text: 'one more thing' }],
      ['interview:language', { language: 'go' }],
      ['signal:report', { kind: 'paste', size: 5 }],
    ];
    for (const [event, payload] of writes) {
      const reply = await (late.socket as any).emitWithAck(event, payload);
      expect(reply?.error?.code, `${event}: ${JSON.stringify(reply)}`).toBe('interview_ended');
    }
    const lateObs = await connectClient(node.url, obsToken, ['main', 'notes']);
    const notes = new Y.Doc();
    notes.getText('notes').insert(0, 'late note');
    expect(await lateObs.socket.emitWithAck('doc:update', { doc: 'notes', update: Y.encodeStateAsUpdate(notes) })).toMatchObject({
      error: { code: 'interview_ended' },
    });
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/events`, { token: iv.token })).body.events.length).toBe(eventsBefore);
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token })).body.files['main.ts']).toBe('answer');
  });
});
