/**
 * What a typist does, as a list of edits on one text: a seeded synthetic mix
 * (keystrokes, backspaces, small pastes) or a real editing trace
 * (josephg/editing-traces, sequential format, via --trace FILE).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type * as Y from 'yjs';
import { randInt, type Rng } from './prng.js';

/** [position, characters to delete, text to insert], applied in order. */
export type Patch = [pos: number, del: number, ins: string];
export type Edit = Patch[];

/** Applies an edit to a text (call it inside a transaction); returns where an editor's caret ends: after its last patch. */
export function applyEdit(text: Y.Text, edit: Edit): number {
  let caret = 0;
  for (const [pos, del, ins] of edit) {
    if (del > 0) text.delete(pos, del);
    if (ins.length > 0) text.insert(pos, ins);
    caret = pos + ins.length;
  }
  return caret;
}

export interface EditSource {
  /** The next edit for a text of `length` characters. */
  next(length: number): Edit;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz     ();{}=.,\n';
const SNIPPETS = [
  'function add(a, b) {\n  return a + b;\n}\n',
  'const result = items.map((x) => x * 2);\n',
  'for (let i = 0; i < n; i++) {\n',
  '  if (left > right) return -1;\n',
  '// TODO: handle the empty case\n',
];

/**
 * About 85% single-character inserts at a moving cursor, 10% backspaces of
 * 1-3 characters, 5% pastes of 20-60 characters.
 */
export function syntheticSource(rng: Rng): EditSource {
  let cursor = 0;
  return {
    next(length) {
      cursor = Math.min(cursor, length);
      // Now and then the cursor jumps, as when a candidate goes back to fix a line.
      if (rng() < 0.03) cursor = randInt(rng, 0, length);
      const r = rng();
      if (r < 0.1 && cursor > 0) {
        const del = Math.min(cursor, randInt(rng, 1, 3));
        cursor -= del;
        return [[cursor, del, '']];
      }
      if (r < 0.15) {
        const snippet = SNIPPETS[randInt(rng, 0, SNIPPETS.length - 1)]!;
        const text = snippet.slice(0, randInt(rng, 20, Math.min(60, snippet.length)));
        const at = cursor;
        cursor += text.length;
        return [[at, 0, text]];
      }
      const ch = ALPHABET[randInt(rng, 0, ALPHABET.length - 1)]!;
      const at = cursor;
      cursor += 1;
      return [[at, 0, ch]];
    },
  };
}

export interface Trace {
  name: string;
  txns: Edit[];
  /** Each transaction's time (ms since the epoch; the traces have 1 s resolution), if the trace has them. */
  times?: number[];
}

interface TraceFile {
  startContent?: string;
  txns: Array<{ time?: string; timestamp?: string; patches: Array<[number, number, string]> }>;
}

function readJson(file: string): unknown {
  const raw = readFileSync(file);
  return JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
}

/** A sequential trace; patches are in code points, and the traces we use are ASCII. */
export function loadTrace(file: string): Trace {
  const json = readJson(file) as TraceFile;
  if (!Array.isArray(json.txns)) throw new Error(`${file}: not a sequential editing trace (no txns)`);
  if (json.startContent) throw new Error(`${file}: traces that start with content are not supported`);
  const txns = json.txns.map((t) => t.patches.map(([pos, del, ins]): Patch => [pos, del, ins]));
  const times = json.txns.map((t) => Date.parse(t.time ?? t.timestamp ?? ''));
  return { name: file.split('/').pop() ?? file, txns, ...(times.every(Number.isFinite) ? { times } : {}) };
}

/**
 * Each transaction's author for a flat (linearised) trace, taken from the
 * trace's concurrent form (clownschool.json.gz for clownschool_flat.json.gz).
 * The two list the same transactions in different orders, so they are matched
 * by (time, deleted count, inserted text); ties (two authors typing the same
 * key in the same second) go in order, which can only interleave the authors
 * more than they really were.
 */
export function loadTraceAgents(concurrentFile: string, flatFile: string): number[] {
  type Txn = { time?: string; agent?: number; patches: Array<[number, number, string]> };
  const key = (t: Txn) => JSON.stringify([t.time ?? '', t.patches.map(([, del, ins]) => [del, ins])]);
  const byKey = new Map<string, number[]>();
  for (const t of (readJson(concurrentFile) as { txns: Txn[] }).txns) {
    if (!Number.isInteger(t.agent)) throw new Error(`${concurrentFile}: a transaction without an agent`);
    const list = byKey.get(key(t)) ?? [];
    list.push(t.agent!);
    byKey.set(key(t), list);
  }
  return (readJson(flatFile) as { txns: Txn[] }).txns.map((t) => {
    const agent = byKey.get(key(t))?.shift();
    if (agent === undefined) throw new Error(`${flatFile} and ${concurrentFile} are not the same session`);
    return agent;
  });
}

/**
 * Plays the trace from its start; each room gets its own copy of the text, so
 * positions stay valid. Past the end it starts over on a fresh line at the end.
 */
export function traceSource(trace: Trace): EditSource {
  let i = 0;
  let base = 0;
  return {
    next(length) {
      if (i >= trace.txns.length) {
        i = 0;
        base = length;
      }
      const txn = trace.txns[i++]!;
      return txn.map(([pos, del, ins]): Patch => [base + pos, del, ins]);
    },
  };
}
