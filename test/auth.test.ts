import type { IncomingMessage } from 'node:http';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { api, connectSocket, createInterview, holdNextStoreAnswer, holdNextStoreCall, interviewerToken, nextEvent, refusal, startNode, TEST_SECRET, waitFor } from './helpers.js';

const secret = new TextEncoder().encode(TEST_SECRET);

function sign(claims: Record<string, unknown>, key: Uint8Array = secret) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

describe('handshake authentication', () => {
  it('refuses missing, malformed, foreign, expired, unscoped and wrong-role tokens with a connect_error code', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: 'u1', name: 'Eve', role: 'candidate', iid: iv.interview.id };

    expect((await refusal(node.url, undefined)).code).toBe('unauthorized');
    expect((await refusal(node.url, 'not-a-jwt')).code).toBe('invalid_token');
    expect((await refusal(node.url, await sign({ ...base, exp: now + 60 }, new TextEncoder().encode('x'.repeat(40))))).code).toBe(
      'invalid_token',
    );
    expect((await refusal(node.url, await sign({ ...base, exp: now - 10 }))).code).toBe('token_expired');
    expect((await refusal(node.url, await sign(base))).code).toBe('invalid_token'); // no exp
    expect((await refusal(node.url, await sign({ ...base, role: 'wizard', exp: now + 60 }))).code).toBe('invalid_token');
    // No PostgreSQL text holds a NUL: one in a name would fail the commit of its whole group.
    expect((await refusal(node.url, await sign({ ...base, name: 'E\u0000ve', exp: now + 60 }))).code).toBe('invalid_token');
    // Nor an id looked up in it (a database error there, not an answer).
    expect((await refusal(node.url, await sign({ ...base, iid: 'a\u0000b', exp: now + 60 }))).code).toBe('invalid_token');
    expect((await refusal(node.url, await sign({ ...base, jti: 'j\u0000', exp: now + 60 }))).code).toBe('invalid_token');
    expect((await refusal(node.url, await interviewerToken(node))).code).toBe('forbidden'); // unscoped
    expect((await refusal(node.url, await iv.invite('reviewer'))).code).toBe('forbidden'); // replay only
    expect((await refusal(node.url, await sign({ ...base, iid: 'nope', exp: now + 60 }))).code).toBe('not_found');
    // alg: none
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ ...base, exp: now + 60 })).toString('base64url');
    expect((await refusal(node.url, `${header}.${payload}.`)).code).toBe('invalid_token');
    // Another namespace is Socket.IO's own refusal, with no data (docs/protocol.md).
    await expect(refusal(`${node.url}/other`, await iv.invite('candidate'))).rejects.toThrow('Invalid namespace');
  });

  it('takes a name or id with a lone surrogate as UTF-8 would hold it, and an invite name with a NUL not at all', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const socket = connectSocket(node.url, await sign({ sub: 'u\udc00', name: 'Zoë \ud800 🎉', role: 'candidate', iid: iv.interview.id, exp }));
    await nextEvent(socket, 'session');
    const joins = await node.server.ctx.store.readEvents(iv.interview.id, { type: 'join' });
    expect(joins.map((e) => e.actor)).toEqual([{ sub: 'u\ufffd', name: 'Zoë \ufffd 🎉', role: 'candidate' }]);
    const refused = await api(node.url, `/api/interviews/${iv.interview.id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'C\u0000y' } });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'invalid_payload' } } });
  });

  it('tells a socket and disconnects it when its token expires mid-session', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const token = await sign({ sub: 'u2', name: 'Cy', role: 'candidate', iid: iv.interview.id, exp: Math.floor(Date.now() / 1000) + 2 });
    const socket = connectSocket(node.url, token, { reconnection: false });
    await nextEvent(socket, 'session');
    const error = await nextEvent<{ code: string }>(socket, 'error', 4000);
    expect(error.code).toBe('token_expired');
    await new Promise<void>((resolve) => (socket.disconnected ? resolve() : socket.once('disconnect', () => resolve())));
  });

  it('keeps neither the token nor the upgrade request once a socket is connected', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const token = await iv.invite('candidate', 'Cy');
    // The upgrade request, which engine.io's stand-in upgrade response keeps as long as the connection.
    let request: IncomingMessage | undefined;
    node.server.ctx.io.engine.once('connection', (conn: { request: IncomingMessage }) => (request = conn.request));
    const socket = connectSocket(node.url, token);
    await nextEvent(socket, 'session');
    expect(request!.headers).toEqual({});
    expect(request!.rawHeaders).toEqual([]);
    const [held] = [...node.server.ctx.io.of('/').sockets.values()];
    expect(held!.data.claims.role).toBe('candidate');
    expect(held!.handshake.auth).toEqual({});
    expect(held!.handshake.headers).toEqual({});
    expect(held!.conn.request).toBeNull();
    expect(JSON.stringify(held!.handshake)).not.toContain(token);
  });
});

describe('REST authorisation', () => {
  it('answers each refusal with its code and status', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const other = await createInterview(node, 'Other');
    const id = iv.interview.id;
    const cand = await iv.invite('candidate');
    const reviewer = await iv.invite('reviewer');

    expect(await api(node.url, '/api/interviews')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await api(node.url, '/api/interviews', { token: 'garbage' })).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
    expect(await api(node.url, `/api/interviews/${id}/events`, { token: cand })).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await api(node.url, `/api/interviews/${id}/document`, { token: cand })).toMatchObject({ status: 403 });
    expect(await api(node.url, '/api/interviews', { token: iv.token, body: { title: 'x' } })).toMatchObject({ status: 403 }); // scoped
    expect(await api(node.url, `/api/interviews/${other.interview.id}`, { token: iv.token })).toMatchObject({ status: 403 });
    expect(await api(node.url, `/api/interviews/${id}/invites`, { token: reviewer, body: { role: 'candidate', name: 'x' } })).toMatchObject({
      status: 403,
    });
    expect(await api(node.url, `/api/interviews/${id}/end`, { token: cand, method: 'POST' })).toMatchObject({ status: 403 });
    // Another interviewer (unscoped) cannot see an interview it did not create; an admin can.
    const stranger = await interviewerToken(node, 'bob', 'Bob');
    expect(await api(node.url, `/api/interviews/${id}`, { token: stranger })).toMatchObject({ status: 403 });
    expect((await api(node.url, '/api/interviews', { token: stranger })).body).toEqual({ interviews: [], next: null });
    const admin = await node.server.ctx.tokens.sign({ sub: 'root', name: 'Root', role: 'admin' }, 60);
    expect((await api(node.url, '/api/interviews', { token: admin })).body.interviews).toHaveLength(2);
    expect(await api(node.url, '/api/interviews/nope', { token: admin })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    // A reviewer may read its interview, its document and its log.
    expect(await api(node.url, `/api/interviews/${id}`, { token: reviewer })).toMatchObject({ status: 200, body: { id } });
    expect(await api(node.url, `/api/interviews/${id}/events`, { token: reviewer })).toMatchObject({ status: 200 });
  });
});

describe('your own token for an interview', () => {
  it('opens the room or the replay as you, for no longer than the token that asked, and only where you may', async () => {
    const node = await startNode();
    const owner = await node.server.ctx.tokens.sign({ sub: 'ada', name: 'Ada', role: 'interviewer' }, 600);
    const made = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Mine' } });
    const id = made.body.id as string;

    const room = await api(node.url, `/api/interviews/${id}/token`, { token: owner, body: {} });
    expect(room.status).toBe(201);
    expect(room.body.url).toMatch(new RegExp(`/room/${id}#token=`));
    const claims = await node.server.ctx.tokens.verify(room.body.token);
    expect(claims).toMatchObject({ sub: 'ada', name: 'Ada', role: 'interviewer', iid: id });
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
    const socket = connectSocket(node.url, room.body.token, { reconnection: false });
    expect((await nextEvent<{ you: { sub: string } }>(socket, 'session')).you.sub).toBe('ada');
    socket.close();

    const replay = await api(node.url, `/api/interviews/${id}/token`, { token: owner, body: { role: 'reviewer' } });
    expect(replay.body.url).toMatch(new RegExp(`/replay/${id}#token=`));
    expect(await node.server.ctx.tokens.verify(replay.body.token)).toMatchObject({ sub: 'ada', role: 'reviewer', iid: id });
    // No invite is made for it.
    expect((await api(node.url, `/api/interviews/${id}/invites`, { token: owner })).body.invites).toEqual([]);

    const candidate = await api(node.url, `/api/interviews/${id}/invites`, { token: owner, body: { role: 'candidate', name: 'Cy' } });
    expect(await api(node.url, `/api/interviews/${id}/token`, { token: candidate.body.token, body: {} })).toMatchObject({ status: 403 });
    expect(await api(node.url, `/api/interviews/${id}/token`, { token: await interviewerToken(node, 'bea', 'Bea'), body: {} })).toMatchObject({ status: 403 });
    expect(await api(node.url, `/api/interviews/${id}/token`, { token: owner, body: { role: 'candidate' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_payload' } },
    });
  });
});

describe('invites', () => {
  it("made with an invite's token expire with it; made with a person's own token, as asked", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const inDays = (n: number) => Date.now() + n * 24 * 3600 * 1000;
    const cohost = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'interviewer', name: 'Bea', expiresIn: 120 } });
    const cohostEnds = Date.parse(cohost.body.expiresAt);

    // A time-boxed co-interviewer cannot hand out access that outlives their own, from their invite's
    // token or from the room token it gets them.
    const cohostRoom = (await api(node.url, `/api/interviews/${id}/token`, { token: cohost.body.token, body: {} })).body.token as string;
    for (const [token, body] of [
      [cohost.body.token, { role: 'candidate', name: 'Cy', expiresIn: 30 * 24 * 3600 }],
      [cohost.body.token, { role: 'observer', name: 'Obi' }],
      [cohostRoom, { role: 'interviewer', name: 'Dee', expiresIn: 30 * 24 * 3600 }],
    ] as const) {
      const minted = await api(node.url, `/api/interviews/${id}/invites`, { token, body });
      expect(minted.status).toBe(201);
      expect(Date.parse(minted.body.expiresAt)).toBeLessThanOrEqual(cohostEnds);
      expect((await node.server.ctx.tokens.verify(minted.body.token)).exp * 1000).toBeLessThanOrEqual(cohostEnds);
    }
    // The interviewer's own token for the interview (no invite behind it) lasts a week; the invite it makes, the 30 days asked.
    const mine = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy', expiresIn: 30 * 24 * 3600 } });
    expect(Date.parse(mine.body.expiresAt)).toBeGreaterThan(inDays(29));
  });

  it('one made with an invite being revoked meanwhile is revoked with it, not left over', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const cohost = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'interviewer', name: 'Bea' } });
    // Bea's request is past its token's check when the revoke lists what Bea minted: her new invite is not there yet.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'listInvites');
    const minting = api(node.url, `/api/interviews/${id}/invites`, { token: cohost.body.token, body: { role: 'candidate', name: 'Cy' } });
    await held.answered;
    const revoked = await api(node.url, `/api/interviews/${id}/invites/${cohost.body.id}`, { token: iv.token, method: 'DELETE' });
    expect(revoked).toMatchObject({ status: 200, body: { minted: [] } });
    held.release();
    expect(await minting).toMatchObject({ status: 401, body: { error: { code: 'invite_revoked' } } });
    const invites = (await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token })).body.invites;
    expect(invites.map((i: { name: string; revokedAt: string | null }) => [i.name, i.revokedAt !== null])).toEqual([
      ['Bea', true],
      ['Cy', true],
    ]);
  });

  it('one made two links down from an invite being revoked is revoked too, though its maker was not marked yet when it was made', async () => {
    const node = await startNode();
    const { store } = node.server.ctx;
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const bea = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'interviewer', name: 'Bea' } });
    const dee = await api(node.url, `/api/interviews/${id}/invites`, { token: bea.body.token, body: { role: 'interviewer', name: 'Dee' } });
    // Dee mints a link; its first read is held.
    const read = holdNextStoreAnswer(store, 'listInvites');
    const minting = api(node.url, `/api/interviews/${id}/invites`, { token: dee.body.token, body: { role: 'candidate', name: 'Cy' } });
    await read.answered;
    // Bea is revoked: marked, the invites read (no Cy yet), and Dee's mark held before it is made.
    const deeMarked = holdNextStoreCall(store, 'revokeInvite', 1);
    const revoking = api(node.url, `/api/interviews/${id}/invites/${bea.body.id}`, { token: iv.token, method: 'DELETE' });
    await deeMarked.reached;
    // Cy's invite is stored now, while Dee is not marked yet: Bea's mark is what it finds.
    read.release();
    expect(await minting).toMatchObject({ status: 401, body: { error: { code: 'invite_revoked' } } });
    deeMarked.release();
    expect(await revoking).toMatchObject({ status: 200 });
    const invites = (await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token })).body.invites;
    expect(invites.map((i: { name: string; revokedAt: string | null }) => [i.name, i.revokedAt !== null])).toEqual([
      ['Bea', true],
      ['Dee', true],
      ['Cy', true],
    ]);
  });

  it('are listed without tokens and revocable: a revoked invite is refused at the handshake and on REST, and its live socket is dropped', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const made = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    const reviewer = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'reviewer', name: 'Panel' } });
    expect(made.body).toMatchObject({ id: expect.any(String), role: 'candidate', name: 'Cy', revokedAt: null });

    const listed = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token });
    expect(listed.body.invites.map((i: any) => i.name)).toEqual(['Cy', 'Panel']);
    expect(JSON.stringify(listed.body)).not.toContain(made.body.token);

    const live = connectSocket(node.url, made.body.token, { reconnection: false });
    await nextEvent(live, 'session');
    const told = nextEvent<{ code: string }>(live, 'error');
    const revoked = await api(node.url, `/api/interviews/${id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' });
    expect(revoked).toMatchObject({ status: 200, body: { id: made.body.id, revokedAt: expect.any(String) } });
    expect((await told).code).toBe('invite_revoked');
    expect((await refusal(node.url, made.body.token)).code).toBe('invite_revoked');

    await api(node.url, `/api/interviews/${id}/invites/${reviewer.body.id}`, { token: iv.token, method: 'DELETE' });
    expect(await api(node.url, `/api/interviews/${id}/events`, { token: reviewer.body.token })).toMatchObject({
      status: 401,
      body: { error: { code: 'invite_revoked' } },
    });
    expect(await api(node.url, `/api/interviews/${id}/invites/nope`, { token: iv.token, method: 'DELETE' })).toMatchObject({ status: 404 });
    expect(await api(node.url, `/api/interviews/${id}/invites`, { token: reviewer.body.token })).toMatchObject({ status: 401 });
  });

  it("revoking an interviewer's invite revokes the invites minted with it, however deep, and no other", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const invite = async (token: string, role: string, name: string) => {
      const made = await api(node.url, `/api/interviews/${id}/invites`, { token, body: { role, name } });
      expect(made.status).toBe(201);
      return made.body as { id: string; token: string };
    };
    const bea = await invite(iv.token, 'interviewer', 'Bea');
    const kept = await invite(iv.token, 'candidate', 'Cy');
    // Before she is revoked, Bea makes herself a link that outlives her own, and hands out two more.
    const beaAgain = await invite(bea.token, 'interviewer', 'Bea (laptop)');
    const byBea = await invite(bea.token, 'reviewer', 'Panel');
    const deeper = await invite(beaAgain.token, 'observer', 'Friend');
    // And her own token for the room and the replay (what the start page and "Open the replay" use).
    const own = (await api(node.url, `/api/interviews/${id}/token`, { token: bea.token, body: { role: 'reviewer' } })).body.token as string;
    expect((await api(node.url, `/api/interviews/${id}/events`, { token: own })).status).toBe(200);

    const live = connectSocket(node.url, beaAgain.token, { reconnection: false });
    await nextEvent(live, 'session');
    const told = nextEvent<{ code: string }>(live, 'error');
    const revoked = await api(node.url, `/api/interviews/${id}/invites/${bea.id}`, { token: iv.token, method: 'DELETE' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.minted.map((m: { id: string }) => m.id).sort()).toEqual([beaAgain.id, byBea.id, deeper.id].sort());
    expect((await told).code).toBe('invite_revoked');

    for (const gone of [bea, beaAgain, byBea, deeper, { token: own }]) {
      expect(await api(node.url, `/api/interviews/${id}`, { token: gone.token })).toMatchObject({ status: 401, body: { error: { code: 'invite_revoked' } } });
    }
    const listed = (await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token })).body.invites as Array<{ id: string; revokedAt: string | null }>;
    expect(listed.filter((i) => i.revokedAt === null).map((i) => i.id)).toEqual([kept.id]);
    expect((await refusal(node.url, bea.token)).code).toBe('invite_revoked');
    const stays = connectSocket(node.url, kept.token, { reconnection: false });
    await nextEvent(stays, 'session');
    stays.close();
  });

  it('an invite revoked while its handshake is past the check is dropped once it connects', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const made = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    // The handshake's check reads "not revoked", then waits.
    const check = holdNextStoreAnswer(node.server.ctx.store, 'isInviteRevoked');
    const live = connectSocket(node.url, made.body.token, { reconnection: false });
    const told = nextEvent<{ code: string }>(live, 'error');
    expect(await check.answered).toBe(false);
    // The revoke finds no connected socket on it to drop.
    expect((await api(node.url, `/api/interviews/${id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' })).status).toBe(200);
    check.release();
    expect((await told).code).toBe('invite_revoked');
    await waitFor(() => live.disconnected);
  });
});
