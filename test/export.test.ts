/** Export: the whole record as one JSON file, streamed page by page, and the final files as a zip. */
import { request, type ClientRequest } from 'node:http';
import { inflateRawSync, crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { loadTimeline, ReplayLoadError, ReplayPlayer, ReplayTimeline } from '../shared/replay/index.js';
import { api, connectClient, createInterview, mainFile, startNode, waitFor, type TestNode } from './helpers.js';

/** Reads a zip through its central directory (what unzip tools do) and checks every CRC. */
function readZip(buf: Buffer): Record<string, string> {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end).toBeGreaterThanOrEqual(0);
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    expect(buf.readUInt32LE(local)).toBe(0x04034b50);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataStart, dataStart + size);
    const data = method === 8 ? inflateRawSync(raw) : raw;
    expect(crc32(data)).toBe(crc);
    out[name] = data.toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Logs `count` runs of a candidate's with 1 MB of output each, straight to the store; returns that output. */
async function logLongRuns(node: TestNode, interviewId: string, count: number): Promise<string> {
  const at = new Date().toISOString();
  const actor = { sub: 'cy', name: 'Cy', role: 'candidate' as const };
  const output = 'x'.repeat(1_000_000);
  await node.server.ctx.store.append(
    interviewId,
    Array.from({ length: count }, (_, i) => ({ type: 'run' as const, at, actor, data: { runId: `r${i}`, path: 'main.py', output: [{ stream: 'stdout', data: output, ms: 1 }] } })),
    { requireOpen: true },
  );
  return output;
}

describe('export', () => {
  it('streams one JSON file with the interview, participants, every event and the final files', async () => {
    const node = await startNode({ snapshotEvery: 20 });
    const iv = await createInterview(node, 'Export me');
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cat'));
    const interviewer = await connectClient(node.url, iv.token, ['main', 'notes']);
    for (let i = 0; i < 50; i++) mainFile(candidate).insert(mainFile(candidate).length, `line ${i}\n`);
    candidate.files().set('util.ts', new Y.Text('export const x = 1;\n'));
    interviewer.provider.doc('notes').getText('notes').insert(0, 'strong start');
    await candidate.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello' });
    await candidate.socket.emitWithAck('signal:report', { kind: 'paste', size: 20 });
    await waitFor(() => candidate.provider.pending === 0 && interviewer.provider.pending === 0);
    // Enough events for several pages of the stream.
    const at = new Date().toISOString();
    const actor = { sub: 'bulk', name: 'Bulk', role: 'interviewer' as const };
    await node.server.ctx.store.append(
      iv.interview.id,
      Array.from({ length: 2300 }, (_, i) => ({ type: 'chat' as const, at, actor, data: { channel: 'panel', text: `bulk ${i}` } })),
      { requireOpen: true },
    );

    const res = await fetch(`${node.url}/api/interviews/${iv.interview.id}/export`, { headers: { authorization: `Bearer ${iv.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="duet-${iv.interview.id}.json"`);
    const body = JSON.parse(await res.text());
    expect(body.format).toBe('duet-export/1');
    expect(body.interview).toMatchObject({ id: iv.interview.id, title: 'Export me' });
    expect(body.participants.map((p: { name: string }) => p.name).sort()).toEqual(['Ada', 'Cat']);
    const seqs = body.events.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan(2300 + 50);
    for (const e of body.events) {
      expect(typeof e.at).toBe('string');
      expect(e.actor).toEqual(expect.objectContaining({ sub: expect.any(String), name: expect.any(String), role: expect.any(String) }));
      if (e.type === 'doc') expect(typeof e.data.update).toBe('string');
    }
    expect(body.events.filter((e: { type: string }) => e.type === 'signal')).toHaveLength(1);
    // The same as the REST log page by page.
    const page = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=10`, { token: iv.token });
    expect(body.events.slice(0, 10)).toEqual(page.body.events);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(body.files).toEqual(doc.body.files);
    expect(body.notes).toBe('strong start');
    // An export replays like the live log.
    const timeline = new ReplayTimeline();
    timeline.append(body.events);
    const end = new ReplayPlayer(timeline).seek(timeline.length);
    expect(end.files).toEqual(body.files);
    expect(end.notes).toBe(body.notes);
    expect(end.signals).toHaveLength(1);

    // A reviewer may export; a candidate or observer token may not.
    const reviewer = await iv.invite('reviewer', 'Rev');
    expect((await fetch(`${node.url}/api/interviews/${iv.interview.id}/export`, { headers: { authorization: `Bearer ${reviewer}` } })).status).toBe(200);
    // The replay page's loader, with the reviewer's token: the same record.
    const loaded = await loadTimeline(new ReplayTimeline(), { baseUrl: node.url, interviewId: iv.interview.id, token: reviewer, pageSize: 700 });
    expect(loaded.length).toBe(body.events.length);
    expect(new ReplayPlayer(loaded).seek(loaded.length).files).toEqual(body.files);
    const refused = await loadTimeline(new ReplayTimeline(), { baseUrl: node.url, interviewId: iv.interview.id, token: await iv.invite('candidate') }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReplayLoadError);
    expect(refused).toMatchObject({ status: 403, code: 'forbidden' });
    for (const role of ['candidate', 'observer'] as const) {
      const r = await api(node.url, `/api/interviews/${iv.interview.id}/export`, { token: await iv.invite(role) });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    expect((await api(node.url, `/api/interviews/nope/export`, { token: await node.server.ctx.tokens.sign({ sub: 'a', name: 'A', role: 'admin' }, 60) })).status).toBe(404);
  });

  it('pages of large events (runs with their output) are cut by size, and the REST log, the replay loader and the export still hold every event', async () => {
    const node = await startNode();
    const iv = await createInterview(node, 'Many long runs');
    // Twelve runs of 1 MB of output each: 12 MB, more than one page may hold.
    const output = await logLongRuns(node, iv.interview.id, 12);
    const first = await api(node.url, `/api/interviews/${iv.interview.id}/events?limit=1000`, { token: iv.token });
    expect(first.body.events.length).toBeLessThan(13);
    expect(first.body.next).toBe(first.body.events.at(-1).seq);
    const pages = [first.body.events];
    for (let after = first.body.next; after !== null; ) {
      const page = await api(node.url, `/api/interviews/${iv.interview.id}/events?after=${after}&limit=1000`, { token: iv.token });
      pages.push(page.body.events);
      after = page.body.next;
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flat().map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));

    const loaded = await loadTimeline(new ReplayTimeline(), { baseUrl: node.url, interviewId: iv.interview.id, token: iv.token });
    expect(loaded.length).toBe(13);
    const res = await fetch(`${node.url}/api/interviews/${iv.interview.id}/export`, { headers: { authorization: `Bearer ${iv.token}` } });
    const body = JSON.parse(await res.text());
    expect(body.events.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(body.events.at(-1).data.output[0].data).toBe(output);
  });

  it('two exports at once per person: a download nobody reads holds its place, and one cut short frees it', async () => {
    const node = await startNode();
    const iv = await createInterview(node, 'Long record');
    // 24 MB of runs: far more than the sockets between here and the node buffer.
    await logLongRuns(node, iv.interview.id, 24);
    const { port } = new URL(node.url);
    // A download that reads its headers and then nothing more.
    const stalled = () =>
      new Promise<ClientRequest>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: `/api/interviews/${iv.interview.id}/export`, headers: { authorization: `Bearer ${iv.token}` } }, (res) => {
          expect(res.statusCode).toBe(200);
          res.pause();
          resolve(req);
        });
        req.on('error', reject);
        req.end();
      });
    const held = [await stalled(), await stalled()];
    await new Promise((r) => setTimeout(r, 300));
    const third = await fetch(`${node.url}/api/interviews/${iv.interview.id}/export`, { headers: { authorization: `Bearer ${iv.token}` } });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // Cut short: their places come back.
    for (const req of held) req.destroy();
    await waitFor(async () => {
      const again = await fetch(`${node.url}/api/interviews/${iv.interview.id}/export`, { headers: { authorization: `Bearer ${iv.token}` } });
      const ok = again.status === 200;
      await again.body?.cancel();
      return ok;
    }, 5000, 100);
  });

  it('files.zip holds the final files, with paths kept inside the archive', async () => {
    const node = await startNode();
    const iv = await createInterview(node, 'Zip');
    const candidate = await connectClient(node.url, await iv.invite('candidate'));
    mainFile(candidate).insert(0, 'console.log("héllo ✓");\n');
    candidate.files().set('src/lib/util.ts', new Y.Text('export {};\n'));
    candidate.files().set('../../etc/evil.ts', new Y.Text('nope\n'));
    await waitFor(() => candidate.provider.pending === 0);

    const res = await fetch(`${node.url}/api/interviews/${iv.interview.id}/files.zip`, { headers: { authorization: `Bearer ${iv.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="duet-${iv.interview.id}-files.zip"`);
    const files = readZip(Buffer.from(await res.arrayBuffer()));
    const id = iv.interview.id;
    expect(files).toEqual({
      [`${id}/etc/evil.ts`]: 'nope\n',
      [`${id}/main.ts`]: 'console.log("héllo ✓");\n',
      [`${id}/src/lib/util.ts`]: 'export {};\n',
    });
    const r = await api(node.url, `/api/interviews/${id}/files.zip`, { token: await iv.invite('candidate') });
    expect(r.status).toBe(403);
  });

  it("files.zip unpacks whole on any desktop: no two names that differ only in case, no file where a folder goes, no name Windows refuses", async () => {
    const node = await startNode();
    const iv = await createInterview(node, 'Zip names', 'python');
    const candidate = await connectClient(node.url, await iv.invite('candidate'));
    const files = { 'Solution.py': 'A', 'solution.py': 'B', lib: 'C', 'lib/util.py': 'D', 'LIB/Util.py': 'E', 'a:b?.py': 'F', CON: 'G', 'src/aux.py': 'H', 'notes.': 'I', 'com1.txt/x.py': 'J' };
    for (const [path, text] of Object.entries(files)) candidate.files().set(path, new Y.Text(text));
    await waitFor(() => candidate.provider.pending === 0);

    const res = await fetch(`${node.url}/api/interviews/${iv.interview.id}/files.zip`, { headers: { authorization: `Bearer ${iv.token}` } });
    const unpacked = readZip(Buffer.from(await res.arrayBuffer()));
    const names = Object.keys(unpacked).map((name) => name.slice(iv.interview.id.length + 1));
    // Every text is there once, under a name no other entry shadows.
    expect(Object.values(unpacked).sort()).toEqual(['', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
    const lower = names.map((name) => name.toLowerCase());
    expect(new Set(lower).size).toBe(names.length);
    for (const name of lower) expect(lower.some((other) => other.startsWith(`${name}/`)), name).toBe(false);
    expect(names.filter((name) => /[<>:"|?*]/.test(name))).toEqual([]);
    const segments = names.flatMap((name) => name.split('/'));
    expect(segments.filter((s) => /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(s) || /[. ]$/.test(s))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['_CON', 'src/_aux.py', 'notes_', '_com1.txt/x.py']));
  });
});
