/**
 * Replay seek benchmark (issue 5, "What it must show" 3).
 *
 * Generates a 2-hour interview of about 50k events (a candidate typing in
 * bursts with pauses, deletes and pastes, an interviewer editing now and then
 * and taking notes, files added and renamed, chat, joins and leaves, language
 * changes, integrity signals), stores it in a real node's SQLite log, loads it
 * through the REST API page by page as the replay page does, then measures
 * seeking to random instants with the replay engine, without checkpoints and
 * with checkpoints every N `doc` events.
 *
 *   npm run bench:replay -- [--events 50000] [--minutes 120] [--seeks 400]
 *                           [--every 100,250,500,1000] [--seed 1] [--trace FILE.json.gz]
 *
 * --trace takes a sequential trace of josephg/editing-traces (e.g.
 * ../shared/data/editing-traces/sveltecomponent.json.gz) as the candidate's
 * typing instead of generated text. Results: bench/results/replay-seek-*.json
 * and a Markdown summary on stdout.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import * as Y from 'yjs';
import type { Actor, LoggedEvent } from '../shared/protocol.js';
import { ReplayPlayer, ReplayTimeline } from '../shared/replay/index.js';
import { createServer } from '../server/app.js';
import { defaultConfig } from '../server/config.js';
import { createInterview } from '../server/interviews.js';
import type { NewEvent } from '../server/store/store.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    minutes: { type: 'string', default: '120' },
    seeks: { type: 'string', default: '400' },
    'seeks-without': { type: 'string', default: '60' },
    every: { type: 'string', default: '100,250,500,1000' },
    seed: { type: 'string', default: '1' },
    trace: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
  },
});

/** mulberry32, as in the tests. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { n: s.length, p50: round(at(0.5)), p95: round(at(0.95)), max: round(s[s.length - 1]!), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

const round = (x: number) => Math.round(x * 100) / 100;

interface TracePatchTxn {
  patches: Array<[number, number, string]>;
}

/** The session as events with Yjs updates, times spread over `minutes`. */
function generateSession(seedUpdate: Uint8Array, count: number, minutes: number, rnd: (n: number) => number, trace: TracePatchTxn[] | undefined) {
  const candidate: Actor = { sub: 'u_candidate', name: 'Cat', role: 'candidate' };
  const interviewer: Actor = { sub: 'u_interviewer', name: 'Ada', role: 'interviewer' };
  const observer: Actor = { sub: 'u_observer', name: 'Oz', role: 'observer' };
  const cDoc = new Y.Doc();
  const iDoc = new Y.Doc();
  const notes = new Y.Doc();
  Y.applyUpdate(cDoc, seedUpdate);
  Y.applyUpdate(iDoc, seedUpdate);
  const events: Array<Omit<NewEvent, 'at'> & { gap: number }> = [];
  // The update of the last transaction of each document (a no-op transaction emits none).
  let update: Uint8Array | undefined;
  for (const d of [cDoc, iDoc, notes]) d.on('update', (u: Uint8Array, origin: unknown) => origin !== 'sync' && (update = u));
  const doc = (actor: Actor, d: Y.Doc, name: 'main' | 'notes', fn: () => void, gap: number) => {
    update = undefined;
    d.transact(fn);
    if (!update) return;
    if (name === 'main') Y.applyUpdate(d === cDoc ? iDoc : cDoc, update, 'sync');
    events.push({ type: 'doc', actor, doc: name, bin: update, data: { doc: name }, gap });
  };
  const other = (type: NewEvent['type'], actor: Actor, data: Record<string, unknown>, gap: number) =>
    events.push({ type, actor, data, gap });

  const files = (d: Y.Doc) => d.getMap<Y.Text>('files');
  const firstPath = [...files(cDoc).keys()][0]!;
  let current = firstPath;
  let cursor = 0;
  let traceAt = 0;
  const words = ['const ', 'return ', 'if (', ') {\n', '}\n', 'for (let i = 0; i < n; i++) ', 'x', 'result', ' = ', ';\n', '  ', 'await ', 'function '];
  other('join', interviewer, {}, 0);
  other('join', observer, {}, 2000);
  other('join', candidate, {}, 5000);
  let fileNo = 1;
  while (events.length < count) {
    // Pauses: thinking, talking; bursts: typing at human speed.
    const gap = rnd(150) === 0 ? 3000 + rnd(60_000) : 60 + rnd(200);
    const roll = rnd(1000);
    const text = () => files(cDoc).get(current)!;
    if (roll < 8) {
      other('chat', rnd(2) ? candidate : interviewer, { channel: 'room', text: `message ${events.length}` }, gap);
    } else if (roll < 11) {
      other('chat', interviewer, { channel: 'panel', text: `panel note ${events.length}` }, gap);
    } else if (roll < 13) {
      other('signal', candidate, rnd(3) ? { kind: rnd(2) ? 'blur' : 'focus' } : { kind: 'paste', size: 200 + rnd(2000), path: current }, gap);
    } else if (roll < 40) {
      doc(interviewer, notes, 'notes', () => notes.getText('notes').insert(notes.getText('notes').length, words[rnd(words.length)]!), gap);
    } else if (roll < 41 && rnd(5) === 0) {
      other('language', candidate, { language: ['typescript', 'python', 'go'][rnd(3)] }, gap);
    } else if (roll < 42 && rnd(4) === 0) {
      const path = `module${fileNo++}.ts`;
      doc(candidate, cDoc, 'main', () => files(cDoc).set(path, new Y.Text('// new file\n')), gap);
      current = path;
      cursor = text().length;
    } else if (roll < 43 && rnd(8) === 0 && current !== firstPath) {
      const to = `renamed${fileNo++}.ts`;
      const content = text().toString();
      doc(candidate, cDoc, 'main', () => {
        files(cDoc).delete(current);
        files(cDoc).set(to, new Y.Text(content));
      }, gap);
      current = to;
      cursor = Math.min(cursor, content.length);
    } else if (roll < 44) {
      other(rnd(2) ? 'leave' : 'join', observer, {}, gap);
    } else if (roll < 80) {
      // The interviewer fixes something somewhere.
      const t = files(iDoc).get([...files(iDoc).keys()][rnd(files(iDoc).size)]!)!;
      doc(interviewer, iDoc, 'main', () => t.insert(rnd(t.length + 1), words[rnd(words.length)]!), gap);
    } else if (roll < 81) {
      const t = text();
      const n = 100 + rnd(700);
      doc(candidate, cDoc, 'main', () => t.insert(Math.min(cursor, t.length), `/* pasted */\n${'y'.repeat(n)}\n`), gap);
      cursor = Math.min(cursor, t.length);
    } else if (roll < 260 && text().length > 0) {
      const t = text();
      cursor = Math.min(cursor, t.length);
      if (cursor > 0) {
        doc(candidate, cDoc, 'main', () => t.delete(cursor - 1, 1), gap);
        cursor--;
      } else cursor = rnd(t.length + 1);
    } else if (trace && traceAt < trace.length && current === firstPath) {
      const txn = trace[traceAt++]!;
      const t = text();
      doc(candidate, cDoc, 'main', () => {
        for (const [pos, del, ins] of txn.patches) {
          if (del > 0) t.delete(Math.min(pos, t.length), Math.min(del, t.length - Math.min(pos, t.length)));
          if (ins.length > 0) t.insert(Math.min(pos, t.length), ins);
        }
      }, gap);
    } else {
      const t = text();
      if (rnd(40) === 0) cursor = rnd(t.length + 1);
      cursor = Math.min(cursor, t.length);
      const s = rnd(8) === 0 ? words[rnd(words.length)]! : String.fromCharCode(97 + rnd(26));
      doc(candidate, cDoc, 'main', () => t.insert(cursor, s), gap);
      cursor += s.length;
    }
  }
  // Scale the gaps so the session lasts `minutes`.
  const total = events.reduce((n, e) => n + e.gap, 0);
  const scale = (minutes * 60_000) / total;
  const finalChars = [...files(cDoc).values()].reduce((n, t) => n + t.length, 0);
  return { events, scale, finalChars, fileCount: files(cDoc).size };
}

async function main(): Promise<void> {
  const count = Number(args.events);
  const minutes = Number(args.minutes);
  const seeks = Number(args.seeks);
  const seeksWithout = Number(args['seeks-without']);
  const everies = String(args.every).split(',').map(Number);
  const rnd = prng(Number(args.seed));
  const trace = args.trace ? (JSON.parse(gunzipSync(readFileSync(args.trace)).toString('utf8')) as { txns: TracePatchTxn[] }).txns : undefined;

  const dataDir = mkdtempSync(join(tmpdir(), 'duet-bench-replay-'));
  const server = await createServer(defaultConfig({ dataDir, logLevel: 'silent', jwtSecret: 'bench-secret-that-is-long-enough-for-hs256' }), {
    logger: pino({ level: 'silent' }),
  });
  try {
    const { url } = await server.listen(0, '127.0.0.1');
    const ctx = server.ctx;
    const creator: Actor = { sub: 'u_interviewer', name: 'Ada', role: 'interviewer' };
    const interview = await createInterview(ctx, creator, { title: 'Two hours', language: 'typescript' });
    const [seed] = await ctx.store.readEvents(interview.id, { limit: 1 });

    let t0 = performance.now();
    const session = generateSession(seed!.bin!, count - 2, minutes, rnd, trace);
    const generateMs = performance.now() - t0;
    let clock = Date.parse(seed!.at);
    const stored: NewEvent[] = session.events.map(({ gap, ...e }) => {
      clock += Math.max(1, Math.round(gap * session.scale));
      return { ...e, at: new Date(clock).toISOString() };
    });
    stored.push({ type: 'end', at: new Date(clock + 1000).toISOString(), actor: creator, data: {} });
    for (let i = 0; i < stored.length; i += 1000) {
      await ctx.store.append(interview.id, stored.slice(i, i + 1000), { requireOpen: false });
    }
    const token = await ctx.tokens.sign({ sub: creator.sub, name: creator.name, role: 'interviewer', iid: interview.id }, 3600);

    // Load as the page does: REST pages of 1,000, base64 updates.
    t0 = performance.now();
    const pages: LoggedEvent[][] = [];
    let bytes = 0;
    for (let after: number | null = 0; after !== null; ) {
      const res = await fetch(`${url}/api/interviews/${interview.id}/events?after=${after}&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      bytes += text.length;
      const body = JSON.parse(text) as { events: LoggedEvent[]; next: number | null };
      pages.push(body.events);
      after = body.next;
    }
    const fetchMs = performance.now() - t0;
    const totalEvents = pages.reduce((n, p) => n + p.length, 0);

    const settings: Array<{ every: number | null; label: string }> = [{ every: null, label: 'none' }, ...everies.map((e) => ({ every: e, label: String(e) }))];
    const results: Array<Record<string, unknown>> = [];
    let duration = 0;
    for (const setting of settings) {
      // Warm the JIT on a first build, then time a second one.
      for (const p of [0, 1]) {
        const timeline = new ReplayTimeline({ checkpointEvery: setting.every ?? Infinity });
        t0 = performance.now();
        for (const page of pages) timeline.append(page);
        const buildMs = performance.now() - t0;
        if (p === 0) {
          timeline.destroy();
          continue;
        }
        duration = timeline.duration;
        const checkpointBytes = timeline.checkpoints.reduce((n, c) => n + c.main.length + c.notes.length, 0);
        const player = new ReplayPlayer(timeline);
        const seekRnd = prng(42);
        const n = setting.every === null ? seeksWithout : seeks;
        const seekMs: number[] = [];
        const renderMs: number[] = [];
        for (let k = 0; k < n; k++) {
          const at = seekRnd(timeline.duration + 1);
          let s = performance.now();
          const state = player.seekTime(at);
          seekMs.push(performance.now() - s);
          // What the page also asks for at each stop: colours and cursors of the shown file.
          s = performance.now();
          const path = Object.keys(state.files)[0];
          player.attribution('main', path);
          player.cursors();
          renderMs.push(performance.now() - s);
        }
        // The two parts of a seek: restoring the newest checkpoint, and building the state at the end.
        const restore: number[] = [];
        const build: number[] = [];
        if (timeline.checkpoints.length > 0) {
          const last = timeline.checkpoints.length - 1;
          for (let k = 0; k < 20; k++) {
            player.moveTo(0);
            let s = performance.now();
            player.moveTo(timeline.checkpoints[last]!.index);
            restore.push(performance.now() - s);
            s = performance.now();
            player.state();
            build.push(performance.now() - s);
          }
        }
        results.push({
          checkpointEvery: setting.every,
          restoreLastCheckpointMs: restore.length ? stats(restore) : null,
          stateAtEndMs: build.length ? stats(build) : null,
          buildMs: round(buildMs),
          checkpoints: timeline.checkpoints.length,
          checkpointMiB: round(checkpointBytes / 2 ** 20),
          seekMs: stats(seekMs),
          attributionAndCursorsMs: stats(renderMs),
        });
        player.destroy();
        timeline.destroy();
      }
    }

    const report = {
      bench: 'replay-seek',
      date: new Date().toISOString(),
      // Shared machines: the load average says how much else was running.
      machine: { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: loadavg().map(round) },
      session: {
        events: totalEvents,
        docEvents: stored.filter((e) => e.type === 'doc').length,
        durationMinutes: round(duration / 60_000),
        finalChars: session.finalChars,
        files: session.fileCount,
        trace: args.trace ?? null,
        generateMs: round(generateMs),
      },
      load: { pages: pages.length, jsonMiB: round(bytes / 2 ** 20), fetchMs: round(fetchMs) },
      seeks: { random: seeks, randomWithoutCheckpoints: seeksWithout },
      results,
    };
    mkdirSync(String(args.out), { recursive: true });
    const file = join(String(args.out), `replay-seek-${report.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

    const lines = [
      `## Replay seek: ${totalEvents} events over ${report.session.durationMinutes} min (${report.session.finalChars} chars in ${report.session.files} files at the end)`,
      '',
      `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}, load average ${report.machine.loadAverage.join(' ')}. Load over REST: ${pages.length} pages, ${report.load.jsonMiB} MiB of JSON, ${round(fetchMs)} ms (SQLite, loopback).`,
      '',
      '| checkpoints every | build (apply all + checkpoints) ms | checkpoints | their size MiB | seek p50 ms | p95 | max | + attribution & cursors p50 ms | restore last checkpoint p50 ms | state() at the end p50 ms |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map((r) => {
        const s = r.seekMs as ReturnType<typeof stats>;
        const a = r.attributionAndCursorsMs as ReturnType<typeof stats>;
        const rs = r.restoreLastCheckpointMs as ReturnType<typeof stats> | null;
        const st = r.stateAtEndMs as ReturnType<typeof stats> | null;
        return `| ${r.checkpointEvery ?? 'none'} doc events | ${r.buildMs} | ${r.checkpoints} | ${r.checkpointMiB} | ${s.p50} | ${s.p95} | ${s.max} | ${a.p50} | ${rs?.p50 ?? '–'} | ${st?.p50 ?? '–'} |`;
      }),
      '',
      `Seeks: ${seeks} random instants in random order (${seeksWithout} without checkpoints). JSON: ${file}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
