/** Integrity signals: the candidate's client reports, the log records, the panel sees, the candidate does not. */
import { describe, expect, it } from 'vitest';
import type { SignalNotice } from '../shared/protocol.js';
import { api, connectClient, createInterview, nextEvent, startNode } from './helpers.js';

const codeOf = (r: unknown) => (r as { error?: { code: string } }).error?.code;

describe('integrity signals', () => {
  it('a candidate signal is logged and shown live to interviewers and observers only', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const interviewer = await connectClient(node.url, iv.token, ['main', 'notes']);
    const observer = await connectClient(node.url, await iv.invite('observer', 'Oz'), ['main', 'notes']);
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cat'));
    let candidateGot = 0;
    candidate.socket.on('signal', () => candidateGot++);

    const toInterviewer = nextEvent<SignalNotice>(interviewer.socket, 'signal');
    const toObserver = nextEvent<SignalNotice>(observer.socket, 'signal');
    expect(await candidate.socket.emitWithAck('signal:report', { kind: 'paste', size: 812, path: 'main.ts' })).toEqual({ ok: true });
    const seen = await toInterviewer;
    expect(seen).toMatchObject({ kind: 'paste', size: 812, path: 'main.ts', from: { name: 'Cat', role: 'candidate' } });
    expect(await toObserver).toEqual(seen);
    expect(await candidate.socket.emitWithAck('signal:report', { kind: 'hidden' })).toEqual({ ok: true });
    expect(await candidate.socket.emitWithAck('signal:report', { kind: 'visible' })).toEqual({ ok: true });

    const log = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    const signals = log.body.events.filter((e: { type: string }) => e.type === 'signal');
    expect(signals.map((e: { data: unknown }) => e.data)).toEqual([{ kind: 'paste', size: 812, path: 'main.ts' }, { kind: 'hidden' }, { kind: 'visible' }]);
    expect(String(signals[0].seq)).toBe(seen.id);
    expect(signals[0].actor.role).toBe('candidate');
    // Socket.IO keeps order per connection: once a later room message reached the
    // candidate, any signal sent to it would have too.
    const later = nextEvent(candidate.socket, 'chat:message');
    await interviewer.socket.emitWithAck('chat:send', { channel: 'room', text: 'after the signals' });
    await later;
    expect(candidateGot).toBe(0);
  });

  it('only the candidate reports; bad payloads are refused with a code; a flood is rate limited', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const interviewer = await connectClient(node.url, iv.token);
    const observer = await connectClient(node.url, await iv.invite('observer'));
    const candidateToken = await iv.invite('candidate');
    const candidate = await connectClient(node.url, candidateToken);

    expect(codeOf(await interviewer.socket.emitWithAck('signal:report', { kind: 'blur' }))).toBe('forbidden');
    expect(codeOf(await observer.socket.emitWithAck('signal:report', { kind: 'blur' }))).toBe('forbidden');
    const bad = [{ kind: 'copy' }, { kind: 'paste', size: -1 }, { kind: 'paste', size: 1.5 }, { kind: 'blur', extra: 1 }, {}, 'blur'];
    for (const payload of bad) expect(codeOf(await candidate.socket.emitWithAck('signal:report', payload as never))).toBe('invalid_payload');
    expect(codeOf(await candidate.socket.emitWithAck('signal:report', { kind: 'paste', path: 'x'.repeat(500) }))).toBe('too_large');

    const replies = await Promise.all(Array.from({ length: 60 }, () => candidate.socket.emitWithAck('signal:report', { kind: 'blur' })));
    const ok = replies.filter((r) => !codeOf(r)).length;
    expect(replies.filter((r) => codeOf(r) === 'rate_limited').length).toBeGreaterThan(0);
    expect(replies.every((r) => !codeOf(r) || codeOf(r) === 'rate_limited')).toBe(true);
    // A new connection of the same person does not bring a fresh burst.
    const again = await connectClient(node.url, candidateToken);
    const more = await Promise.all(Array.from({ length: 10 }, () => again.socket.emitWithAck('signal:report', { kind: 'blur' })));
    expect(more.filter((r) => codeOf(r) === 'rate_limited').length).toBeGreaterThan(0);
    const okAgain = more.filter((r) => !codeOf(r)).length;
    const log = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    expect(log.body.events.filter((e: { type: string }) => e.type === 'signal')).toHaveLength(ok + okAgain);

    await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, body: {} });
    const late = await connectClient(node.url, await iv.invite('candidate', 'Late'));
    expect(codeOf(await late.socket.emitWithAck('signal:report', { kind: 'focus' }))).toBe('interview_ended');
  });
});
