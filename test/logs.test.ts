/**
 * No tokens and no document or chat contents in logs: a node logging at
 * `trace` goes through a whole session (invites, typing, notes, chat, bad
 * tokens, bad payloads, a slow consumer dropped, revocation, the end) and its
 * log is searched for every secret it handled.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { api, connectClient, connectSocket, createInterview, mainFile, nextEvent, refusal, startNode, TEST_SECRET, waitFor } from './helpers.js';

describe('logs', () => {
  it('carry no token, no typed text, no notes and no chat, even at trace level', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    // The paste loop below writes far past a person's write budget: raised, as what is tested is the logs.
    const node = await startNode(
      { logLevel: 'trace', socketSendBufferBytes: 64 * 1024, handshakesPerMinute: 12, writeBytesPerSecond: 2 ** 30, writeBytesBurst: 2 ** 30 },
      { logger },
    );
    const iv = await createInterview(node, 'Staff engineer loop');
    const candToken = await iv.invite('candidate', 'Cy');
    const idaToken = await iv.invite('interviewer', 'Ida');
    const revoked = await api(node.url, `/api/interviews/${iv.interview.id}/invites`, { token: iv.token, body: { role: 'observer', name: 'Gone' } });

    const cand = await connectClient(node.url, candToken);
    const ida = await connectClient(node.url, idaToken, ['main', 'notes']);
    mainFile(cand).insert(0, 'TYPED-SECRET-4a1f def solve(): pass\n');
    ida.provider.doc('notes').getText('notes').insert(0, 'NOTE-SECRET-77c2 strong hire');
    await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'CHAT-SECRET-9e0b hello' });
    await ida.socket.emitWithAck('chat:send', { channel: 'panel', text: 'PANEL-SECRET-31d8 yes' });
    await waitFor(() => ida.text().includes('TYPED-SECRET') && cand.provider.pending === 0 && ida.provider.pending === 0);

    // Refusals of every kind, each carrying something secret.
    await refusal(node.url, candToken.slice(0, -4) + 'AAAA');
    await refusal(node.url, 'TOKEN-SECRET-not-a-jwt');
    await api(node.url, '/api/interviews', { token: candToken.slice(0, -4) + 'AAAA' });
    await api(node.url, `/api/interviews/${iv.interview.id}/events`, { token: candToken });
    await cand.socket.emitWithAck('chat:send', { channel: 'panel', text: 'CHAT-SECRET-refused' });
    await cand.socket.emitWithAck('doc:update', { doc: 'main', update: new TextEncoder().encode('TYPED-SECRET-garbage') });
    await (cand.socket as any).emitWithAck('no:such', { text: 'CHAT-SECRET-unknown' });
    await api(node.url, '/api/interviews', { token: iv.token, rawBody: '{"title": "TYPED-SECRET-broken' });

    // A slow consumer is dropped (logged), with a big paste in flight.
    const slow = await connectClient(node.url, await iv.invite('observer', 'Slow'));
    (slow.socket.io.engine as any).transport.ws.pause();
    const paste = `TYPED-SECRET-paste ${'x'.repeat(50_000)}`;
    for (let i = 0; i < 800 && slow.socket.connected; i++) {
      const text = mainFile(cand);
      if (i % 2 === 0) text.insert(0, paste);
      else text.delete(0, paste.length);
      await waitFor(() => cand.provider.pending === 0, 10_000, 2);
    }
    (slow.socket.io.engine as any).transport.ws.resume();

    const live = connectSocket(node.url, revoked.body.token, { reconnection: false });
    await nextEvent(live, 'session');
    await api(node.url, `/api/interviews/${iv.interview.id}/invites/${revoked.body.id}`, { token: iv.token, method: 'DELETE' });
    await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' });
    // Past the handshake budget (logged with the address, not the token).
    for (let i = 0; i < 14; i++) await refusal(node.url, 'not-a-token');
    await node.close();

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(0);
    expect(log).toContain('dropping a socket that does not read');
    expect(log).toContain('socket connected');
    expect(log).toContain('rate limited');
    const secrets = [
      iv.token,
      candToken,
      idaToken,
      revoked.body.token,
      // Any fragment of a token's signature is enough to worry.
      candToken.split('.')[2]!.slice(0, 16),
      iv.token.split('.')[2]!.slice(0, 16),
      TEST_SECRET,
      'TOKEN-SECRET',
      'TYPED-SECRET',
      'NOTE-SECRET',
      'CHAT-SECRET',
      'PANEL-SECRET',
    ];
    for (const s of secrets) expect(log.includes(s), `log contains ${s.slice(0, 24)}`).toBe(false);
    // Nor the binary of an update, base64-encoded.
    const update = Buffer.from(Y.encodeStateAsUpdate(cand.provider.doc('main'))).toString('base64').slice(0, 24);
    expect(log.includes(update)).toBe(false);
  });
});
