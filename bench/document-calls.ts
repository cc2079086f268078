/**
 * What `GET /api/interviews/:id/document` costs a node for a long document:
 * one node on SQLite (a temporary data directory), an interview given
 * `--updates` one-character edits straight to its log (no snapshot, so a
 * rebuild applies every one), then `--calls` calls one after another, each
 * checked against the text the edits made. The first call builds the
 * document; the rest show what a repeated call costs. `--duet-root` runs
 * another checkout's server (an A/B against an older commit).
 *
 *   npm run bench:document -- [--updates 20000] [--calls 60] [--duet-root DIR] [--name NAME]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import * as Y from 'yjs';
import { machine } from './machine.js';
import { PROJECT_ROOT } from './systems/cluster.js';

const { values: a } = parseArgs({
  options: {
    updates: { type: 'string', default: '20000' },
    calls: { type: 'string', default: '60' },
    'duet-root': { type: 'string', default: PROJECT_ROOT },
    name: { type: 'string', default: 'document-calls' },
  },
});
const root = a['duet-root']!;
const { createServer } = await import(join(root, 'server', 'app.ts'));
const { defaultConfig } = await import(join(root, 'server', 'config.ts'));

const dataDir = mkdtempSync(join(tmpdir(), 'duet-bench-document-'));
const config = defaultConfig({ port: 0, host: '127.0.0.1', dataDir, jwtSecret: 'bench-secret-that-is-long-enough-for-hs256', logLevel: 'silent', httpRequestsPerMinute: 1_000_000 });
const server = await createServer(config, { logger: pino({ level: 'silent' }), warmUp: false });
try {
  const { url } = await server.listen(0, '127.0.0.1');
  const owner = await server.ctx.tokens.sign({ sub: 'bench', name: 'Bench', role: 'interviewer' }, 3600);
  const res = await fetch(`${url}/api/interviews`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
    body: JSON.stringify({ title: 'Document calls', language: 'python' }),
  });
  const created = (await res.json()) as { id: string; token: string };

  // A client's edits from the seeded document on: inserts and some deletions at seeded places.
  const ydoc = new Y.Doc();
  for (const e of await server.ctx.store.readEvents(created.id, { type: 'doc', doc: 'main' })) if (e.bin) Y.applyUpdate(ydoc, e.bin);
  const text = [...ydoc.getMap<Y.Text>('files').values()][0]!;
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const updates: Uint8Array[] = [];
  ydoc.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < Number(a.updates); i++) {
    if (text.length > 50 && next(5) === 0) text.delete(next(text.length - 1), 1);
    else text.insert(next(text.length + 1), 'abcdefghij \n'[next(12)]!);
  }
  const at = new Date().toISOString();
  const actor = { sub: 'bench-candidate', name: 'Candidate', role: 'candidate' as const };
  for (let i = 0; i < updates.length; i += 1000) {
    const page = updates.slice(i, i + 1000).map((bin) => ({ type: 'doc' as const, at, actor, data: {}, doc: 'main' as const, bin }));
    await server.ctx.store.append(created.id, page, { requireOpen: true });
  }

  const times: number[] = [];
  for (let i = 0; i < Number(a.calls); i++) {
    const started = performance.now();
    const body = (await (await fetch(`${url}/api/interviews/${created.id}/document`, { headers: { authorization: `Bearer ${created.token}` } })).json()) as { files: Record<string, string> };
    times.push(performance.now() - started);
    if (Object.values(body.files)[0] !== text.toString()) throw new Error(`call ${i + 1}: the document differs from the edits' text`);
  }
  const rest = times.slice(1).sort((x, y) => x - y);
  const at_ = (q: number) => Math.round(rest[Math.min(rest.length - 1, Math.floor(rest.length * q))]! * 100) / 100;
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    duetRoot: root,
    updates: updates.length,
    chars: text.length,
    calls: times.length,
    firstMs: Math.round(times[0]! * 10) / 10,
    laterMs: { p50: at_(0.5), p95: at_(0.95), max: at_(1) },
  };
  const out = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${a.name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`${report.updates} updates, ${report.chars} chars: first call ${report.firstMs} ms, later calls p50 ${report.laterMs.p50} / p95 ${report.laterMs.p95} ms (bench/results/${a.name}.json)`);
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
