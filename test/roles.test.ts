import { describe, expect, it } from 'vitest';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import type { Actor } from '../shared/protocol.js';
import {
  connectClient,
  connectSocket,
  createInterview,
  failNextStoreCall,
  holdNextStoreAnswer,
  mainFile,
  nextEvent,
  slowStoreCalls,
  startNode,
  waitFor,
  type TestClient,
  type TestNode,
} from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';

/** The names in a participant list read from the store, sorted. */
const listedNames = (answer: unknown) => (answer as Actor[]).map((a) => a.name).sort();

/** One SQLite node (both ends are it), or two nodes sharing PostgreSQL and Redis. */
async function twoEnds(backend: 'sqlite' | 'postgres'): Promise<[TestNode, TestNode]> {
  if (backend === 'sqlite') {
    const node = await startNode();
    return [node, node];
  }
  const [a, b] = (await startCluster(2)).nodes;
  return [a!, b!];
}

/** The two ends, an interview created on the first, and its creator Ada in its room there. */
async function adaInRoom(backend: 'sqlite' | 'postgres') {
  const [n0, other] = await twoEnds(backend);
  const iv = await createInterview(n0);
  const ada = await connectClient(n0.url, iv.token);
  // Its join's own list read (after its row is written, maybe after `session`)
  // is done, so a test's hold on the next read catches the one it means to.
  await waitFor(() => ada.participantEvents() > 0);
  return { n0, other, iv, ada };
}

/** Waits until every client lists exactly these people online, then checks that nothing later takes anyone out. */
async function expectOnlineStays(clients: TestClient[], names: string[]): Promise<void> {
  const online = (c: TestClient) => c.participants().filter((p) => p.online).map((p) => p.name).sort();
  for (const c of clients) await waitFor(() => JSON.stringify(online(c)) === JSON.stringify(names));
  await new Promise((r) => setTimeout(r, 300));
  for (const c of clients) expect(online(c)).toEqual(names);
}

describe('roles in the live room', () => {
  it('an observer receives edits, but its edits and room chat are refused with forbidden', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const obs = await connectClient(node.url, await iv.invite('observer', 'Olga'), ['main', 'notes']);

    mainFile(cand).insert(0, 'def solve():\n');
    await waitFor(() => obs.text() === 'def solve():\n');

    // A raw write from the observer: refused, and nothing changes anywhere.
    const evil = new Y.Doc();
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(obs.provider.doc('main')));
    evil.getMap<Y.Text>('files').get('main.ts')!.insert(0, 'HACKED');
    const reply = await obs.socket.emitWithAck('doc:update', { doc: 'main', update: Y.encodeStateAsUpdate(evil) });
    expect(reply).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });

    const chat = await obs.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello candidate' });
    expect(chat).toMatchObject({ error: { code: 'forbidden' } });
    const lang = await obs.socket.emitWithAck('interview:language', { language: 'python' });
    expect(lang).toMatchObject({ error: { code: 'forbidden' } });

    // Observers may write the notes and panel chat.
    obs.provider.doc('notes').getText('notes').insert(0, 'strong start');
    await waitFor(() => obs.provider.pending === 0);
    const panel = await obs.socket.emitWithAck('chat:send', { channel: 'panel', text: 'looks good' });
    expect(panel).toMatchObject({ message: { channel: 'panel', text: 'looks good', from: { role: 'observer' } } });

    const fresh = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    expect(fresh.text()).toBe('def solve():\n');
  });

  it('a candidate socket listening to every event never sees notes, panel chat or anything derived from them', async () => {
    const node = await startNode();
    const iv = await createInterview(node);

    const seen: Array<{ event: string; args: unknown[] }> = [];
    const candSocket = connectSocket(node.url, await iv.invite('candidate', 'Cy'));
    candSocket.onAny((event, ...args) => seen.push({ event, args }));
    await nextEvent(candSocket, 'session');

    const ida = await connectClient(node.url, await iv.invite('interviewer', 'Ida'), ['main', 'notes']);
    const obs = await connectClient(node.url, await iv.invite('observer', 'Olga'), ['main', 'notes']);
    ida.provider.doc('notes').getText('notes').insert(0, 'SECRET-NOTE weak on graphs');
    ida.provider.awareness('notes').setLocalStateField('cursor', { file: 'SECRET-CURSOR', selections: [] });
    await ida.socket.emitWithAck('chat:send', { channel: 'panel', text: 'SECRET-PANEL hire?' });
    await obs.socket.emitWithAck('chat:send', { channel: 'panel', text: 'SECRET-PANEL maybe' });
    await ida.socket.emitWithAck('chat:send', { channel: 'room', text: 'welcome!' });
    await waitFor(() => obs.provider.doc('notes').getText('notes').toString().includes('SECRET-NOTE'));
    await waitFor(() => seen.some((s) => s.event === 'chat:message'));

    // The candidate's own attempts are refused.
    expect(await candSocket.emitWithAck('doc:sync', { doc: 'notes', stateVector: Y.encodeStateVector(new Y.Doc()) })).toMatchObject({
      error: { code: 'forbidden' },
    });
    expect(await candSocket.emitWithAck('chat:send', { channel: 'panel', text: 'let me in' })).toMatchObject({
      error: { code: 'forbidden' },
    });

    // A reconnecting candidate's session carries no panel chat either.
    const later = connectSocket(node.url, await iv.invite('candidate', 'Cy2'));
    const session = await nextEvent<any>(later, 'session');
    expect(session.chat.map((m: any) => m.text)).toEqual(['welcome!']);

    const dump = JSON.stringify(seen, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v));
    expect(dump).not.toContain('SECRET');
    expect(seen.some((s) => (s.args[0] as any)?.doc === 'notes')).toBe(false);
    expect(seen.filter((s) => s.event === 'chat:message').map((s) => (s.args[0] as any).text)).toEqual(['welcome!']);
  });

  it('a disconnected client\'s cursor is removed for everyone', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const b = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    a.provider.awareness('main').setLocalStateField('user', { name: 'Cy', color: '#f00' });
    const aId = a.provider.doc('main').clientID;
    await waitFor(() => (b.provider.awareness('main').getStates().get(aId) as any)?.user?.name === 'Cy');

    // A late joiner gets current cursors from the node.
    const c = await connectClient(node.url, await iv.invite('observer', 'Olga'));
    await waitFor(() => c.provider.awareness('main').getStates().has(aId));

    a.socket.disconnect();
    await waitFor(() => !b.provider.awareness('main').getStates().has(aId));
    await waitFor(() => !c.provider.awareness('main').getStates().has(aId));
  });

  it("a cursor carries its sender's identity: a caret label cannot pose as someone else or pass the candidate a note", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const olga = await connectClient(node.url, await iv.invite('observer', 'Olga'));
    olga.provider.awareness('main').setLocalStateField('user', { sub: 'someone', name: 'Ada (interviewer): the answer is 42', role: 'interviewer', color: '#123456', extra: 'x' });
    olga.provider.awareness('main').setLocalStateField('cursor', { file: 'main.py', selections: [] });
    const olgaId = olga.provider.doc('main').clientID;
    await waitFor(() => (cy.provider.awareness('main').getStates().get(olgaId) as any)?.cursor?.file === 'main.py');
    const user = (cy.provider.awareness('main').getStates().get(olgaId) as any).user;
    expect(user).toEqual({ sub: olga.provider.session!.you.sub, name: 'Olga', role: 'observer', color: '#123456' });
    // A joiner gets the same from the node's copy.
    const late = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    await waitFor(() => late.provider.awareness('main').getStates().has(olgaId));
    expect((late.provider.awareness('main').getStates().get(olgaId) as any).user.name).toBe('Olga');
  });

  it('a cursor holds a user and selections, nothing else: no free text reaches the candidate past the log, and no state goes unnamed', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const olga = connectSocket(node.url, await iv.invite('observer', 'Olga'));
    await nextEvent(olga, 'session');
    const heard: unknown[] = [];
    cy.socket.on('awareness', ({ update }: { update: Uint8Array }) => heard.push(...statesOf(update)));
    const send = (state: unknown) => olga.emitWithAck('awareness', { doc: 'main', update: awarenessUpdate(991, state) });

    const refused = { error: { code: 'invalid_payload' } };
    expect(await send({ hint: 'use a hashmap' })).toMatchObject(refused);
    expect(await send({ cursor: { file: 'main.py', selections: [], hint: 'use a hashmap' } })).toMatchObject(refused);
    expect(await send({ cursor: { file: 'main.py', selections: [{ anchor: { note: 'use a hashmap' }, head: {} }] } })).toMatchObject(refused);
    expect(await send('use a hashmap')).toMatchObject(refused);
    expect(await send({ cursor: { file: 'main.py', selections: Array(101).fill({ anchor: {}, head: {} }) } })).toMatchObject(refused);

    // A state with no user is named for its sender.
    const at = { type: null, tname: 'main.py', item: { client: 991, clock: 3 }, assoc: 0 };
    expect(await send({ cursor: { file: 'main.py', selections: [{ anchor: at, head: at }] } })).toEqual({ ok: true });
    await waitFor(() => heard.length === 1);
    expect(heard).toEqual([{ user: { sub: expect.any(String), name: 'Olga', role: 'observer' }, cursor: { file: 'main.py', selections: [{ anchor: at, head: at }] } }]);
  });

  it("an awareness client id is its owner's: another participant cannot take it over, the same person reconnecting can", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const idaInvite = await iv.invite('interviewer', 'Ida');
    const ida = await connectClient(node.url, idaInvite);
    const olga = await connectClient(node.url, await iv.invite('observer', 'Olga'));
    ida.provider.awareness('main').setLocalStateField('user', { name: 'Ida', color: '#00aa00' });
    const idaId = ida.provider.doc('main').clientID;
    await waitFor(() => (olga.provider.awareness('main').getStates().get(idaId) as any)?.user?.name === 'Ida');

    /** One awareness entry, as y-protocols encodes it, under any client id and clock. */
    const entry = (clientId: number, clock: number, state: unknown) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 1);
      encoding.writeVarUint(e, clientId);
      encoding.writeVarUint(e, clock);
      encoding.writeVarString(e, JSON.stringify(state));
      return encoding.toUint8Array(e);
    };
    const cy = connectSocket(node.url, await iv.invite('candidate', 'Cy'), { reconnection: false });
    await nextEvent(cy, 'session');
    expect(await cy.emitWithAck('awareness', { doc: 'main', update: entry(idaId, 1000, { user: { name: 'Ida' }, cursor: { file: 'hijacked', selections: [] } }) })).toMatchObject({
      error: { code: 'forbidden' },
    });
    // Nor may it remove her cursor.
    expect(await cy.emitWithAck('awareness', { doc: 'main', update: entry(idaId, 1000, null) })).toMatchObject({ error: { code: 'forbidden' } });
    cy.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((olga.provider.awareness('main').getStates().get(idaId) as any)?.cursor?.file).toBeUndefined();
    expect(olga.provider.awareness('main').getStates().has(idaId)).toBe(true);

    // Ida's new connection (her old one not gone yet) takes her id over; the old one's leave leaves it be.
    const again = connectSocket(node.url, idaInvite, { reconnection: false });
    await nextEvent(again, 'session');
    expect(await again.emitWithAck('awareness', { doc: 'main', update: entry(idaId, 1000, { user: { name: 'Ida' }, cursor: { file: 'after-reconnect', selections: [] } }) })).toEqual({ ok: true });
    await waitFor(() => (olga.provider.awareness('main').getStates().get(idaId) as any)?.cursor?.file === 'after-reconnect');
    ida.socket.disconnect();
    await waitFor(() => node.server.ctx.io.sockets.sockets.size === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect((olga.provider.awareness('main').getStates().get(idaId) as any)?.cursor?.file).toBe('after-reconnect');
  });

  it('participants list everyone once per sub with their online state', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ida = await connectClient(node.url, iv.token);
    const candToken = await iv.invite('candidate', 'Cy');
    const cand = await connectClient(node.url, candToken);
    const second = await connectClient(node.url, candToken); // a second tab of the same person
    const summary = () => ida.participants().map((p) => [p.name, p.role, p.online]).sort();
    await waitFor(() => ida.participants().length === 2);
    expect(summary()).toEqual([
      ['Ada', 'interviewer', true],
      ['Cy', 'candidate', true],
    ]);
    expect(cand.participants().map((p) => p.name).sort()).toEqual(['Ada', 'Cy']);
    // A first join's own session lists the joiner, online, after those seen before.
    expect(cand.provider.session?.participants.map((p) => [p.name, p.online])).toEqual([
      ['Ada', true],
      ['Cy', true],
    ]);
    cand.socket.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    // Still online through the second tab.
    expect(ida.participants().find((p) => p.name === 'Cy')?.online).toBe(true);
    second.socket.disconnect();
    await waitFor(() => ida.participants().find((p) => p.name === 'Cy')?.online === false);
  });

  it.each(['sqlite', 'postgres'] as const)(
    'a participant back under a new name is listed once, by the new name, in its own session and for the others (%s)',
    async (backend) => {
      const [n0, back] = await twoEnds(backend);
      const iv = await createInterview(n0);
      const cyToken = await iv.invite('candidate', 'Cy');
      const ada = await connectClient(n0.url, iv.token);
      const first = await connectClient(n0.url, cyToken);
      const cySub = first.provider.session!.you.sub;
      first.socket.disconnect();
      await waitFor(() => ada.participants().find((p) => p.sub === cySub)?.online === false);
      // A slow write of the joiner's row must not leave its session with the old name.
      const store = back.server.ctx.store;
      slowStoreCalls(store, 'upsertParticipant', 200);
      const renamed = await back.server.ctx.tokens.sign({ sub: cySub, name: 'Cy Renamed', role: 'candidate', iid: iv.interview.id }, 3600);
      const cy = await connectClient(back.url, renamed);
      expect(cy.provider.session?.participants.map((p) => [p.name, p.online])).toEqual([
        ['Ada', true],
        ['Cy Renamed', true],
      ]);
      await waitFor(() => ada.participants().some((p) => p.name === 'Cy Renamed' && p.online));
      expect(ada.participants().filter((p) => p.sub === cySub)).toHaveLength(1);
      // What was written agrees with what the session said.
      expect((await store.listParticipants(iv.interview.id)).map((p) => p.name)).toEqual(['Ada', 'Cy Renamed']);
    },
  );

  it.each(['sqlite', 'postgres'] as const)(
    "a joiner's session does not wait for its row's commit; the others list it once the row is written (%s)",
    async (backend) => {
      const { other, iv, ada } = await adaInRoom(backend);
      const held = holdNextStoreAnswer(other.server.ctx.store, 'upsertParticipant');
      const cy = await connectClient(other.url, await iv.invite('candidate', 'Cy'));
      // The session came while the write's answer was still held.
      expect(cy.provider.session?.participants.map((p) => [p.name, p.online])).toEqual([
        ['Ada', true],
        ['Cy', true],
      ]);
      await held.answered;
      // What Cy sends meanwhile waits for the row: nothing is logged for someone without one.
      let acked = false;
      const said = cy.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello' }).finally(() => (acked = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(ada.participants().some((p) => p.name === 'Cy')).toBe(false);
      expect(acked).toBe(false);
      held.release();
      expect(await said).toMatchObject({ message: { text: 'hello' } });
      await expectOnlineStays([ada, cy], ['Ada', 'Cy']);
      // And its join comes first in the log.
      const events = await other.server.ctx.store.readEvents(iv.interview.id, {});
      const cys = events.filter((e) => e.actor.name === 'Cy').map((e) => e.type);
      expect(cys).toEqual(['join', 'chat']);
    },
  );

  it('a joiner whose row cannot be written gets its session, then unavailable, and is disconnected, leaving no one listed and nothing logged (postgres)', async () => {
    const { other, iv, ada } = await adaInRoom('postgres');
    const write = failNextStoreCall(other.server.ctx.store, 'upsertParticipant', true);
    const socket = connectSocket(other.url, await iv.invite('candidate', 'Cy'), { reconnection: false });
    const session = nextEvent(socket, 'session');
    const error = nextEvent(socket, 'error');
    await session;
    // Sent before the write turns out to have failed: it must not be logged.
    const said = socket.timeout(1000).emitWithAck('chat:send', { channel: 'room', text: 'too soon' }).catch(() => undefined);
    await write.reached;
    await new Promise((r) => setTimeout(r, 50)); // the chat is in
    write.fail();
    expect(await error).toMatchObject({ code: 'unavailable' });
    await waitFor(() => socket.disconnected);
    expect(await said).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(ada.participants().map((p) => p.name)).toEqual(['Ada']);
    expect(listedNames(await other.server.ctx.store.listParticipants(iv.interview.id))).toEqual(['Ada']);
    expect((await other.server.ctx.store.readEvents(iv.interview.id, {})).filter((e) => e.actor.name === 'Cy')).toEqual([]);
  });

  it('a joiner that leaves while its row is being written is logged joining, then leaving; one whose row fails, neither (postgres)', async () => {
    const { other, iv } = await adaInRoom('postgres');
    const held = holdNextStoreAnswer(other.server.ctx.store, 'upsertParticipant');
    const cy = connectSocket(other.url, await iv.invite('candidate', 'Cy'), { reconnection: false });
    await nextEvent(cy, 'session');
    await held.answered;
    cy.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    held.release();
    const typesOf = async (name: string) => (await other.server.ctx.store.readEvents(iv.interview.id, {})).filter((e) => e.actor.name === name).map((e) => e.type);
    await waitFor(async () => (await typesOf('Cy')).length === 2);
    expect(await typesOf('Cy')).toEqual(['join', 'leave']);

    const write = failNextStoreCall(other.server.ctx.store, 'upsertParticipant', true);
    const dee = connectSocket(other.url, await iv.invite('candidate', 'Dee'), { reconnection: false });
    await nextEvent(dee, 'session');
    await write.reached;
    dee.disconnect();
    write.fail();
    await new Promise((r) => setTimeout(r, 300));
    expect(await typesOf('Dee')).toEqual([]);
  });

  it.each(['sqlite', 'postgres'] as const)(
    'two first-time joiners at once, their rows written slowly, each end up in every list (%s)',
    async (backend) => {
      const { n0, other, iv, ada } = await adaInRoom(backend);
      for (const node of new Set([n0, other])) slowStoreCalls(node.server.ctx.store, 'upsertParticipant', 200);
      // Joins that read the list before both rows are written would each
      // announce a list without the other, and the last announcement wins.
      const [cy, dee] = await Promise.all([
        connectClient(n0.url, await iv.invite('candidate', 'Cy')),
        connectClient(other.url, await iv.invite('observer', 'Dee')),
      ]);
      await expectOnlineStays([ada, cy, dee], ['Ada', 'Cy', 'Dee']);
    },
  );

  it.each(['sqlite', 'postgres'] as const)(
    'a join whose list was read before another join and answered after it does not take that joiner out (%s)',
    async (backend) => {
      const { n0, other, iv, ada } = await adaInRoom(backend);
      const dee = await connectClient(other.url, await iv.invite('observer', 'Dee'));
      await waitFor(() => ada.participants().some((p) => p.name === 'Dee' && p.online));
      // Cy's join reads the list; its answer comes back only after Eve has
      // joined (on the other node, when there are two) and been announced.
      const held = holdNextStoreAnswer(n0.server.ctx.store, 'listParticipants');
      const cyToken = await iv.invite('candidate', 'Cy');
      const cyJoining = connectClient(n0.url, cyToken);
      // The held read is the one of Cy's session, made before Eve joined and
      // alongside Cy's row being written (so Cy may be in it or not).
      expect(listedNames(await held.answered).filter((n) => n !== 'Cy')).toEqual(['Ada', 'Dee']);
      const eve = await connectClient(other.url, await iv.invite('observer', 'Eve'));
      for (const c of [ada, dee]) await waitFor(() => c.participants().some((p) => p.name === 'Eve' && p.online));
      held.release();
      const cy = await cyJoining;
      await expectOnlineStays([ada, cy, dee, eve], ['Ada', 'Cy', 'Dee', 'Eve']);
    },
  );

  it.each(['sqlite', 'postgres'] as const)(
    'a join abandoned before its session, after others listed it online, is shown offline (%s)',
    async (backend) => {
      const { n0, other, iv, ada } = await adaInRoom(backend);
      // Cy's join waits at its list read; meanwhile Eve's join lists Cy online.
      const held = holdNextStoreAnswer(n0.server.ctx.store, 'listParticipants');
      const cySocket = connectSocket(n0.url, await iv.invite('candidate', 'Cy'));
      expect(listedNames(await held.answered).filter((n) => n !== 'Cy')).toEqual(['Ada']);
      // Cy's row is written alongside that read, not after it.
      await waitFor(async () => listedNames(await n0.server.ctx.store.listParticipants(iv.interview.id)).includes('Cy'));
      const eve = await connectClient(other.url, await iv.invite('observer', 'Eve'));
      const cyOnline = (c: typeof ada) => c.participants().find((p) => p.name === 'Cy')?.online;
      for (const c of [ada, eve]) await waitFor(() => cyOnline(c) === true);
      cySocket.disconnect();
      for (const c of [ada, eve]) await waitFor(() => cyOnline(c) === false);
      held.release();
      await new Promise((r) => setTimeout(r, 300));
      for (const c of [ada, eve]) expect(cyOnline(c)).toBe(false);
    },
  );

  it('a list read that fails is read again, so the join still reaches everyone (postgres)', async () => {
    const { n0, other, iv, ada } = await adaInRoom('postgres');
    const dee = await connectClient(other.url, await iv.invite('observer', 'Dee'));
    await waitFor(() => ada.participants().some((p) => p.name === 'Dee' && p.online));
    // The other node's read after Cy's join fails.
    failNextStoreCall(other.server.ctx.store, 'listParticipants');
    await connectClient(n0.url, await iv.invite('candidate', 'Cy'));
    await waitFor(() => dee.participants().some((p) => p.name === 'Cy' && p.online));
  });
});

/** An awareness update of one state, written by hand as a client other than Duet's could send it. */
function awarenessUpdate(clientId: number, state: unknown): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint(encoder, clientId);
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarString(encoder, JSON.stringify(state));
  return encoding.toUint8Array(encoder);
}

/** The states an awareness update carries. */
function statesOf(update: Uint8Array): unknown[] {
  const decoder = decoding.createDecoder(new Uint8Array(update));
  return Array.from({ length: decoding.readVarUint(decoder) }, () => {
    decoding.readVarUint(decoder);
    decoding.readVarUint(decoder);
    return JSON.parse(decoding.readVarString(decoder)) as unknown;
  });
}
