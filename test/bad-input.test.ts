import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { LIMITS } from '../shared/limits.js';
import { api, connectClient, connectSocket, createInterview, holdLogReads, holdNextStoreAnswer, interviewerToken, mainFile, nextEvent, startNode, waitFor } from './helpers.js';
import { BACKENDS, startNodeOn } from './fixtures/multi-node.js';

async function eventCount(url: string, id: string, token: string): Promise<number> {
  const res = await api(url, `/api/interviews/${id}/events?limit=1000`, { token });
  return res.body.events.length;
}

describe('bad input over Socket.IO', () => {
  it('refuses malformed, oversized and garbage payloads with codes and changes nothing', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const ida = await connectClient(node.url, iv.token);
    mainFile(cand).insert(0, 'print(1)\n');
    await waitFor(() => ida.text() === 'print(1)\n');
    const before = await eventCount(node.url, iv.interview.id, iv.token);

    const s = cand.socket;
    const code = (r: any) => r?.error?.code;
    expect(code(await s.emitWithAck('doc:update', { doc: 'main', update: new Uint8Array([1, 2, 3, 250, 251]) }))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('doc:update', { doc: 'main', update: 'text' as any }))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('doc:update', { doc: 'secret' as any, update: new Uint8Array([0, 0]) }))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('doc:update', { doc: 'main', update: new Uint8Array(LIMITS.updateBytes + 1) }))).toBe('too_large');
    expect(code(await s.emitWithAck('doc:update', { doc: 'main', update: new Uint8Array([0, 0]), extra: 1 } as any))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('doc:sync', { doc: 'main', stateVector: new Uint8Array([255, 255, 255]) }))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('chat:send', { channel: 'room', text: 'x'.repeat(LIMITS.chatChars + 1) }))).toBe('too_large');
    expect(code(await s.emitWithAck('chat:send', { channel: 'room', text: '   ' }))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('chat:send', null as any))).toBe('invalid_payload');
    expect(code(await s.emitWithAck('interview:language', { language: 'klingon' } as any))).toBe('invalid_payload');
    expect(code(await (s as any).emitWithAck('admin:nuke', {}))).toBe('unknown_event');
    expect(code(await (s as any).emitWithAck('chat:message', { text: 'spoofed' }))).toBe('unknown_event');
    expect(code(await s.emitWithAck('awareness', { doc: 'main', update: new Uint8Array([9, 9, 9]) }))).toBe('invalid_payload');

    // An update touching a root type the document does not have.
    const rogue = new Y.Doc();
    rogue.getText('evil').insert(0, 'x');
    expect(code(await s.emitWithAck('doc:update', { doc: 'main', update: Y.encodeStateAsUpdate(rogue) }))).toBe('invalid_payload');

    // Without an ack, the refusal comes as an `error` event.
    const err = nextEvent<{ code: string }>(s, 'error');
    (s as any).emit('doc:update', { doc: 'main', update: new Uint8Array([7, 7]) });
    expect((await err).code).toBe('invalid_payload');

    expect(await eventCount(node.url, iv.interview.id, iv.token)).toBe(before);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files).toEqual({ 'main.ts': 'print(1)\n' });
    // The connection survived all of it.
    mainFile(cand).insert(9, 'print(2)\n');
    await waitFor(() => ida.text() === 'print(1)\nprint(2)\n');
  });

  it('refuses content the documents do not hold (values other than texts in the files map, formatting, embeds, attributes, nested types, carriage returns): none of it counts as characters', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const ida = await connectClient(node.url, iv.token, ['main', 'notes']);
    mainFile(cand).insert(0, 'print(1)\n');
    await waitFor(() => ida.text() === 'print(1)\n');
    const before = await eventCount(node.url, iv.interview.id, iv.token);
    const big = 'x'.repeat(600_000);

    // Each change made on a copy of what the client has, sent as the update Yjs makes of it.
    const made = (doc: 'main' | 'notes', change: (copy: Y.Doc) => void): Uint8Array => {
      const copy = new Y.Doc();
      const source = (doc === 'main' ? cand : ida).provider.doc(doc);
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(source));
      const vector = Y.encodeStateVector(copy);
      change(copy);
      return Y.encodeStateAsUpdate(copy, vector);
    };
    const files = (d: Y.Doc) => d.getMap<unknown>('files');
    const text = (d: Y.Doc) => files(d).get('main.ts') as Y.Text;
    const rogue: Array<[string, 'main' | 'notes', Uint8Array]> = [
      ['a string as a file', 'main', made('main', (d) => files(d).set('big.txt', big))],
      ['a string replacing a file', 'main', made('main', (d) => files(d).set('main.ts', big))],
      ['a map as a file', 'main', made('main', (d) => files(d).set('dir', new Y.Map()))],
      ['an array as a file', 'main', made('main', (d) => files(d).set('list', Y.Array.from([big])))],
      ['formatting in a file', 'main', made('main', (d) => text(d).format(0, 5, { colour: big }))],
      ['an embed in a file', 'main', made('main', (d) => text(d).insertEmbed(0, { image: big }))],
      ['an attribute on a file', 'main', made('main', (d) => text(d).setAttribute('meta', big))],
      ['a text inside a file', 'main', made('main', (d) => text(d).insertEmbed(0, new Y.Text(big)))],
      ['formatting in the notes', 'notes', made('notes', (d) => d.getText('notes').insert(0, 'n', { bold: big }))],
      ['a text inside the notes', 'notes', made('notes', (d) => d.getText('notes').insertEmbed(0, new Y.Text(big)))],
      // The editors keep LF line ends: a CR would put everyone's Monaco offsets off the text's (\r\n is one character there, two here).
      ['a CRLF in a file', 'main', made('main', (d) => text(d).insert(0, 'a\r\nb'))],
      ['a CR in a new file', 'main', made('main', (d) => files(d).set('cr.ts', new Y.Text('x\ry')))],
      ['a CR in the notes', 'notes', made('notes', (d) => d.getText('notes').insert(0, 'n\r'))],
      // No Yjs call makes this one: characters straight in the files map, not in a text.
      ['characters in the files map', 'main', itemUpdate(new Y.ContentString(big), 'files', 'chars.txt')],
    ];
    for (const [what, doc, update] of rogue) {
      const socket = doc === 'main' ? cand.socket : ida.socket;
      const reply: any = await socket.emitWithAck('doc:update', { doc, update });
      expect([what, reply?.error?.code]).toEqual([what, 'invalid_payload']);
    }
    expect(await eventCount(node.url, iv.interview.id, iv.token)).toBe(before);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files).toEqual({ 'main.ts': 'print(1)\n' });
    // What the editors do still goes through: typing, a new file, a rename, notes.
    mainFile(cand).insert(9, 'print(2)\n');
    const map = cand.provider.doc('main').getMap<Y.Text>('files');
    map.set('util.ts', new Y.Text('export {};\n'));
    cand.provider.doc('main').transact(() => {
      map.set('app.ts', new Y.Text(map.get('main.ts')!.toString()));
      map.delete('main.ts');
    });
    ida.provider.doc('notes').getText('notes').insert(0, 'good start');
    await waitFor(() => cand.provider.pending === 0 && ida.provider.pending === 0);
    const after = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(after.body.files).toEqual({ 'app.ts': 'print(1)\nprint(2)\n', 'util.ts': 'export {};\n' });
  });

  it('limits the bytes one person writes to the log, whatever socket they send from: a paste-and-delete loop stops, typing goes on', async () => {
    const node = await startNode({ writeBytesPerSecond: 1000, writeBytesBurst: LIMITS.updateBytes });
    const iv = await createInterview(node);
    const invite = await iv.invite('candidate');
    const cand = await connectClient(node.url, invite);
    const before = await eventCount(node.url, iv.interview.id, iv.token);
    // Updates made on a document of our own, sent as they are.
    const mine = new Y.Doc();
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(cand.provider.doc('main')));
    const next = (change: (t: Y.Text) => void): Uint8Array => {
      const vector = Y.encodeStateVector(mine);
      change(mine.getMap<Y.Text>('files').get('main.ts')!);
      return Y.encodeStateAsUpdate(mine, vector);
    };
    const send = async (socket: typeof cand.socket, update: Uint8Array) => ((await socket.emitWithAck('doc:update', { doc: 'main', update })) as any).error?.code ?? 'ok';
    expect(await send(cand.socket, next((t) => t.insert(0, 'x'.repeat(600_000))))).toBe('ok');
    expect(await send(cand.socket, next((t) => t.delete(0, 600_000)))).toBe('ok');
    const again = next((t) => t.insert(0, 'y'.repeat(600_000)));
    expect(await send(cand.socket, again)).toBe('rate_limited');
    // A new connection with the same invite is the same person: no fresh budget.
    const other = connectSocket(node.url, invite);
    await nextEvent(other, 'session');
    expect(await send(other, again)).toBe('rate_limited');
    // What is left of the budget still takes typing, and chat.
    mainFile(cand).insert(0, 'print(1)\n');
    await waitFor(() => cand.provider.pending === 0);
    expect(await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'still here' })).toHaveProperty('message');
    // Logged: the paste, its deletion, the typing and the chat (and the second connection's join); not the second paste.
    const events = (await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token })).body.events.slice(before);
    expect(events.map((e: { type: string }) => e.type).filter((t: string) => t !== 'join')).toEqual(['doc', 'doc', 'doc', 'chat']);
    other.disconnect();
  });

  it('charges every update at least 64 bytes of the write budget: keystrokes by the thousand cannot multiply the snapshots they warrant', async () => {
    const node = await startNode({ writeBytesPerSecond: 1, writeBytesBurst: 64 * 20 });
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const mine = new Y.Doc();
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(cand.provider.doc('main')));
    const replies: string[] = [];
    for (let i = 0; i < 30; i++) {
      const vector = Y.encodeStateVector(mine);
      mine.getMap<Y.Text>('files').get('main.ts')!.insert(0, 'k');
      const update = Y.encodeStateAsUpdate(mine, vector);
      expect(update.byteLength).toBeLessThan(40);
      replies.push(((await cand.socket.emitWithAck('doc:update', { doc: 'main', update })) as any).error?.code ?? 'ok');
    }
    // 1,280 bytes of burst are twenty keystrokes at 64, not forty at their own ~30
    // (each later one builds on the refused one: refused as not holding together).
    expect(replies.slice(0, 21)).toEqual([...Array(20).fill('ok'), 'rate_limited']);
    expect(replies.slice(21)).not.toContain('ok');
  });

  it('limits language changes per person, whatever socket they come from: each is logged and turns everyone\'s editor', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const invite = await iv.invite('candidate');
    const cand = await connectClient(node.url, invite);
    const change = async (socket: typeof cand.socket, i: number) =>
      ((await socket.emitWithAck('interview:language', { language: i % 2 ? 'go' : 'python' })) as any).error?.code ?? 'ok';
    // A second connection with the same invite is the same person.
    const other = connectSocket(node.url, invite);
    await nextEvent(other, 'session');
    const codes = [];
    for (let i = 0; i < 11; i++) codes.push(await change(cand.socket, i));
    codes.push(await change(other, 0));
    expect(codes).toEqual([...Array(10).fill('ok'), 'rate_limited', 'rate_limited']);
    other.disconnect();
    // An interviewer has a budget of their own.
    const ida = await connectClient(node.url, iv.token);
    expect(await change(ida.socket, 1)).toBe('ok');
  });

  it('limits doc:syncs per person: each one reads the log and encodes what the client lacks', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const stateVector = Y.encodeStateVector(new Y.Doc());
    const replies = await Promise.all(Array.from({ length: 40 }, () => cand.socket.emitWithAck('doc:sync', { doc: 'main', stateVector })));
    const codes = replies.map((r: any) => r.error?.code ?? 'ok');
    // Thirty at once, then five a second.
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(30);
    expect(codes.filter((c) => c === 'ok').length).toBeLessThan(35);
    expect(codes.filter((c) => c !== 'ok').every((c) => c === 'rate_limited')).toBe(true);
  });

  it('refuses an update that would push the document past its size limit', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const chunk = 'x'.repeat(400_000);
    mainFile(cand).insert(0, chunk);
    mainFile(cand).insert(0, chunk);
    await waitFor(() => cand.provider.pending === 0);
    const refused = new Promise<any>((resolve) => cand.provider.on('refused', resolve));
    mainFile(cand).insert(0, chunk);
    expect((await refused).code).toBe('too_large');
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts'].length).toBe(800_000);
  });

  it('two pastes at once, each within the size limit alone, do not both pass: text being committed counts', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    // Ada's commit waits while Cy's paste is checked.
    const first = holdNextStoreAnswer(node.server.ctx.store, 'appendMany');
    mainFile(ada).insert(0, 'a'.repeat(600_000));
    await first.answered;
    const refused = new Promise<any>((resolve) => cy.provider.on('refused', resolve));
    mainFile(cy).insert(0, 'b'.repeat(600_000));
    await new Promise((r) => setTimeout(r, 300));
    first.release();
    expect((await refused).code).toBe('too_large');
    await waitFor(() => ada.provider.pending === 0);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe('a'.repeat(600_000));
  });

  it('a client holding a refused edit says so until it is undone: nothing typed on top of it counts as saved', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const text = mainFile(cand);
    text.insert(0, 'keep');
    await waitFor(() => cand.provider.pending === 0);
    const refused = new Promise<any>((resolve) => cand.provider.on('refused', resolve));
    text.insert(0, 'x'.repeat(LIMITS.docChars + 1));
    expect((await refused).code).toBe('too_large');
    expect(cand.provider.refusedEdit).toMatchObject({ doc: 'main', error: { code: 'too_large' } });
    // Deleting text the server has is stored, and changes nothing about the refused text.
    text.delete(LIMITS.docChars + 1, 4);
    await waitFor(() => cand.provider.pending === 0);
    expect(cand.provider.refusedEdit).toBeDefined();
    // Typed on top: built on the refused text, it is not stored either, and the client keeps saying so,
    // without sending the refused text again for every key.
    let sentBytes = 0;
    cand.socket.onAnyOutgoing((event, payload) => {
      if (event === 'doc:update') sentBytes += (payload as { update: Uint8Array }).update.byteLength;
    });
    for (const ch of 'hello') {
      text.insert(text.length, ch);
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(cand.provider.refusedEdit).toBeDefined();
    expect(sentBytes).toBeLessThan(10_000);
    const stored = async () => (await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token })).body.files['main.ts'];
    expect(await stored()).toBe('');
    // Undone (deleted), the rest goes through and the refusal clears.
    text.delete(0, LIMITS.docChars + 1);
    await waitFor(async () => (await stored()) === 'hello', 10_000);
    await waitFor(() => cand.provider.refusedEdit === undefined && cand.provider.pending === 0);
  });

  it('an edit refused for its size and undone with an undo manager (which keeps the text for a redo) still clears', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const text = mainFile(cand);
    const undo = new Y.UndoManager(text);
    const refused = new Promise<any>((resolve) => cand.provider.on('refused', resolve));
    text.insert(0, 'x'.repeat(LIMITS.updateBytes + 100_000)); // over what one update may carry
    expect((await refused).code).toBe('too_large');
    undo.undo();
    undo.stopCapturing();
    text.insert(0, 'ok');
    const stored = async () => (await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token })).body.files['main.ts'];
    await waitFor(async () => (await stored()) === 'ok', 10_000);
    await waitFor(() => cand.provider.refusedEdit === undefined && cand.provider.pending === 0);
  });

  it('rate-limits a socket that floods events', async () => {
    const node = await startNode({ socketEventsPerSecond: 5, socketEventBurst: 10 });
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => cand.socket.emitWithAck('chat:send', { channel: 'room', text: `m${i}` })),
    );
    const codes = replies.map((r: any) => r.error?.code ?? 'ok');
    expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(11);
    expect(codes.filter((c) => c === 'rate_limited').length).toBeGreaterThanOrEqual(19);
  });
  it('keeps edits refused as rate_limited pending until the resync that carries them is answered and they are stored', async () => {
    const node = await startNode({ socketEventsPerSecond: 5, socketEventBurst: 10 });
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    // A resync's answer waits for a read of the log: hold every read until the gate opens.
    const store = node.server.ctx.store;
    const open = holdLogReads(store);
    let resyncs = 0;
    cand.socket.onAnyOutgoing((event) => {
      if (event === 'doc:sync') resyncs++;
    });
    for (let i = 0; i < 30; i++) mainFile(cand).insert(mainFile(cand).length, `e${i} `);
    // Past the burst the node refuses them (rate_limited); the provider resyncs to send them.
    await waitFor(() => resyncs > 0, 5000);
    // Every edit has its answer by now, and the refused ones are not stored: still pending.
    expect(cand.provider.pending).toBeGreaterThan(0);
    open();
    await waitFor(() => cand.provider.pending === 0, 10_000);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe(cand.text());
    expect(cand.text()).toContain('e29 ');
  });
});

describe('bad input over REST', () => {
  it.each(BACKENDS)('answers malformed, oversized and unknown requests with codes (%s)', async (backend) => {
    const node = await startNodeOn(backend);
    const iv = await createInterview(node);
    const owner = iv.token;
    const id = iv.interview.id;
    const admin = await node.server.ctx.tokens.sign({ sub: 'root', name: 'Root', role: 'admin' }, 60);
    expect(await api(node.url, '/api/interviews', { token: admin, rawBody: '{"title":' })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_payload' } },
    });
    expect(await api(node.url, '/api/interviews', { token: admin, body: { title: '' } })).toMatchObject({ status: 400 });
    expect(await api(node.url, '/api/interviews', { token: admin, body: { title: 'x', language: 'cobol' } })).toMatchObject({ status: 400 });
    expect(await api(node.url, '/api/interviews', { token: admin, body: { title: 'x', role: 'admin' } })).toMatchObject({ status: 400 });
    expect(await api(node.url, '/api/interviews', { token: admin, body: { title: 'x'.repeat(100_000) } })).toMatchObject({
      status: 413,
      body: { error: { code: 'too_large' } },
    });
    expect(await api(node.url, `/api/interviews/${id}/invites`, { token: owner, body: { role: 'admin', name: 'x' } })).toMatchObject({
      status: 400,
    });
    expect(await api(node.url, `/api/interviews/${id}/events?after=-1`, { token: owner })).toMatchObject({ status: 400 });
    // Past what a sequence number can be (PostgreSQL's integer): refused, not a database error.
    expect(await api(node.url, `/api/interviews/${id}/events?after=3000000000`, { token: owner })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_payload' } },
    });
    expect(await api(node.url, `/api/interviews/${id}/events?after=1e400`, { token: owner })).toMatchObject({ status: 400 });
    // A number past the safe integers is a bad number, not a body too large (it was 413).
    expect(await api(node.url, `/api/interviews/${id}/events?after=1e300`, { token: owner })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_payload' } },
    });
    expect(await api(node.url, `/api/interviews/${id}/events?limit=100000`, { token: owner })).toMatchObject({ status: 400 });
    expect(await api(node.url, '/api/nothing-here', { token: owner })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    // Ids no database row can have: not found, as any other unknown id (a NUL was a 500 on PostgreSQL).
    for (const bad of ['%00', 'a%00b', '%E2%80%AE', 'x'.repeat(5000)]) {
      expect(await api(node.url, `/api/interviews/${bad}`, { token: admin })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
      expect(await api(node.url, `/api/interviews/${id}/invites/${bad}`, { method: 'DELETE', token: owner })).toMatchObject({
        status: 404,
        body: { error: { code: 'not_found' } },
      });
    }
    // A token scoped to another interview learns nothing of it, whatever its id.
    expect(await api(node.url, '/api/interviews/a%00b', { token: owner })).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    // Not UTF-8 once decoded: a bad path.
    expect(await api(node.url, '/api/interviews/%ED%A0%80', { token: admin })).toMatchObject({ status: 400, body: { error: { code: 'invalid_payload' } } });
    // Requests that take no body refuse one, and change nothing: an end, a revoke, a delete.
    const invite = await api(node.url, `/api/interviews/${id}/invites`, { token: owner, body: { role: 'candidate', name: 'Cy' } });
    const invalid = { status: 400, body: { error: { code: 'invalid_payload' } } };
    for (const body of [{ status: 'open' }, [1, 2], 'end']) {
      expect(await api(node.url, `/api/interviews/${id}/end`, { token: owner, method: 'POST', body })).toMatchObject(invalid);
      expect(await api(node.url, `/api/interviews/${id}/invites/${invite.body.id}`, { token: owner, method: 'DELETE', body })).toMatchObject(invalid);
      expect(await api(node.url, `/api/interviews/${id}`, { token: owner, method: 'DELETE', body })).toMatchObject(invalid);
    }
    expect((await api(node.url, `/api/interviews/${id}`, { token: owner })).body.status).toBe('open');
    expect((await api(node.url, `/api/interviews/${id}/invites`, { token: owner })).body.invites[0].revokedAt).toBeNull();
    expect(await api(node.url, `/api/interviews/${id}/end`, { token: owner, method: 'POST', body: {} })).toMatchObject({ status: 200, body: { status: 'ended' } });
  });

  it.each(BACKENDS)('refuses a title with a NUL and creates nothing; keeps a lone surrogate as U+FFFD (%s)', async (backend) => {
    // No PostgreSQL text holds a NUL: unchecked, the insert failed as a database error (500).
    const node = await startNodeOn(backend);
    const owner = await interviewerToken(node);
    const refused = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Two\u0000sum' } });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'invalid_payload' } } });
    const odd = await api(node.url, '/api/interviews', { token: owner, body: { title: 'Two \ud800 sum' } });
    expect(odd).toMatchObject({ status: 201, body: { title: 'Two \ufffd sum' } });
    const list = await api(node.url, '/api/interviews', { token: owner });
    expect(list.body.interviews.map((i: { title: string }) => i.title)).toEqual(['Two \ufffd sum']);
  });
});

/** An update of one item under a root type, written by hand: what a client built without Yjs's own API could send. */
function itemUpdate(content: Y.ContentString, root: string, key: string | null): Uint8Array {
  const client = 4242;
  const item = new Y.Item(Y.createID(client, 0), null, null, null, null, root as unknown as Y.AbstractType<any>, key, content);
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, 1); // clients
  encoding.writeVarUint(encoder.restEncoder, 1); // structs of this client
  encoder.writeClient(client);
  encoding.writeVarUint(encoder.restEncoder, 0); // its first clock
  item.write(encoder, 0);
  encoding.writeVarUint(encoder.restEncoder, 0); // an empty delete set
  return encoder.toUint8Array();
}
