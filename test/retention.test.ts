/** Deleting interviews: on request (creator or admin), and by the RETENTION_DAYS sweep. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { reportSnapshotFailure } from '../server/realtime/snapshot-failures.js';
import { sweepExpired } from '../server/retention.js';
import { adminToken, api, connectClient, createInterview, interviewerToken, mainFile, nextEvent, startNode, tempDir, waitFor } from './helpers.js';

describe('deleting an interview', () => {
  it('the creator deletes it with every event, snapshot, invite and participant, and live sockets are dropped', async () => {
    const node = await startNode({ snapshotEvery: 5 });
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cat'));
    for (let i = 0; i < 20; i++) mainFile(candidate).insert(0, 'x');
    await waitFor(() => candidate.provider.pending === 0);
    const store = node.server.ctx.store;
    await waitFor(async () => (await store.latestSnapshot(id, 'main')) !== undefined);
    expect((await store.listInvites(id)).length).toBeGreaterThan(0);
    expect((await store.listParticipants(id)).length).toBeGreaterThan(0);

    // Not an invited interviewer, not a reviewer, not another interviewer.
    for (const token of [await iv.invite('interviewer', 'Ivy'), await iv.invite('reviewer'), await interviewerToken(node, 'someone-else')]) {
      const r = await api(node.url, `/api/interviews/${id}`, { method: 'DELETE', token });
      expect(r.status).toBe(403);
    }

    const dropped = nextEvent<{ code: string }>(candidate.socket, 'error');
    const gone = new Promise((resolve) => candidate.socket.once('disconnect', resolve));
    const res = await api(node.url, `/api/interviews/${id}`, { method: 'DELETE', token: iv.token });
    expect(res.status).toBe(204);
    expect((await dropped).code).toBe('not_found');
    await gone;

    expect(await store.getInterview(id)).toBeUndefined();
    expect(await store.readEvents(id, {})).toEqual([]);
    expect(await store.latestSnapshot(id, 'main')).toBeUndefined();
    expect(await store.listInvites(id)).toEqual([]);
    expect(await store.listParticipants(id)).toEqual([]);
    expect((await api(node.url, `/api/interviews/${id}`, { token: await adminToken(node) })).status).toBe(404);
    expect((await api(node.url, `/api/interviews/${id}`, { method: 'DELETE', token: await adminToken(node) })).status).toBe(404);
  });

  it('a deleted interview\'s sockets leave without a snapshot warning (its snapshots went with it)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const node = await startNode({ snapshotEvery: 5, logLevel: 'warn' }, { logger });
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cat'));
    for (let i = 0; i < 7; i++) mainFile(candidate).insert(0, 'x');
    await waitFor(() => candidate.provider.pending === 0);
    // Edits since the last snapshot: the last socket's leave snapshots the room.
    const store = node.server.ctx.store;
    await waitFor(async () => (await store.latestSnapshot(id, 'main')) !== undefined);
    const gone = new Promise((resolve) => candidate.socket.once('disconnect', resolve));
    expect((await api(node.url, `/api/interviews/${id}`, { method: 'DELETE', token: iv.token })).status).toBe(204);
    await gone;
    await new Promise((r) => setTimeout(r, 500));
    expect(lines.filter((l) => l.includes('snapshot failed'))).toEqual([]);
    await reportSnapshotFailure(node.server.ctx, id)(new Error('after the delete'));
    expect(lines.filter((l) => l.includes('snapshot failed'))).toEqual([]);
    // A snapshot of an interview that still exists failing is still reported.
    const other = await createInterview(node);
    await reportSnapshotFailure(node.server.ctx, other.interview.id)(new Error('database down'));
    expect(lines.filter((l) => l.includes('snapshot failed'))).toHaveLength(1);
  });

  it('an admin deletes any interview', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const res = await api(node.url, `/api/interviews/${iv.interview.id}`, { method: 'DELETE', token: await adminToken(node) });
    expect(res.status).toBe(204);
    expect(await node.server.ctx.store.getInterview(iv.interview.id)).toBeUndefined();
  });
});

describe('retention', () => {
  it('RETENTION_DAYS is optional and validated', () => {
    expect(loadConfig({}).retentionDays).toBeUndefined();
    expect(loadConfig({ RETENTION_DAYS: '90' }).retentionDays).toBe(90);
    expect(() => loadConfig({ RETENTION_DAYS: '0' })).toThrow(/RETENTION_DAYS/);
    expect(() => loadConfig({ RETENTION_DAYS: 'soon' })).toThrow(/RETENTION_DAYS/);
  });

  it('RETENTION_DAYS: a node sweeps interviews ended longer ago than that, at start and on its timer', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir }, { keepOpen: true });
    const old = await createInterview(first, 'Old');
    const recent = await createInterview(first, 'Recent');
    const open = await createInterview(first, 'Still open');
    const store = first.server.ctx.store;
    const actor = { sub: 'ada', name: 'Ada', role: 'interviewer' as const };
    const endAt = async (id: string, at: string) =>
      store.append(id, [{ type: 'end', at, actor, data: {} }], { requireOpen: true, patch: { status: 'ended', endedAt: at } });
    await endAt(old.interview.id, new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString());
    await endAt(recent.interview.id, new Date(Date.now() - 5 * 24 * 3600 * 1000).toISOString());
    await first.close();

    const node = await startNode({ dataDir, retentionDays: 30 });
    const s = node.server.ctx.store;
    await waitFor(async () => (await s.getInterview(old.interview.id)) === undefined);
    expect(await s.readEvents(old.interview.id, {})).toEqual([]);
    expect(await s.getInterview(recent.interview.id)).toBeDefined();
    expect(await s.getInterview(open.interview.id)).toBeDefined();

    // Ten days later, the recent one is due too; an open interview never is.
    expect(await sweepExpired(node.server.ctx, 30, Date.now() + 30 * 24 * 3600 * 1000)).toBe(1);
    expect(await s.getInterview(recent.interview.id)).toBeUndefined();
    expect(await sweepExpired(node.server.ctx, 1, Date.now() + 10 ** 11)).toBe(0);
    expect(await s.getInterview(open.interview.id)).toBeDefined();
  });
});
