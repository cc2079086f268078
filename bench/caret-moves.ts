/**
 * How many awareness updates real typing sends, from the real editing traces:
 * the browser client publishes its caret on every key, and since change 36
 * (docs/performance.md) the provider sends the state only when its JSON
 * differs from the last one sent, or 8 s after it (shared/provider.ts).
 * The caret is a Yjs relative position, anchored to the character on its
 * right, so typing at the caret leaves it as it was.
 *
 * Each transaction of a trace is one key (or paste, or auto-indent) of its
 * author; after it the author's caret is at the end of its last patch, as in
 * an editor. Counted per author: transactions after which the caret's JSON
 * differs from the one last sent, plus the 8 s resends (the traces have
 * 1 s timestamps). Moves without an edit (clicks, arrows) are not in the
 * traces; they are sent before and after this change alike.
 *
 *   npx tsx bench/caret-moves.ts [--traces DIR] [--name NAME]
 *
 * Writes bench/results/NAME.json (default caret-moves.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import { AWARENESS_RESEND_MS } from '../shared/provider.js';
import { PROJECT_ROOT } from './systems/cluster.js';
import { applyEdit, loadTrace, loadTraceAgents } from './typing.js';

const { values: a } = parseArgs({
  options: {
    traces: { type: 'string', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'editing-traces') },
    name: { type: 'string', default: 'caret-moves' },
  },
});

interface Counted {
  trace: string;
  authors: number;
  /** Transactions: one awareness update each before the change. */
  keys: number;
  /** Awareness updates sent now: the caret moved, or the resend. */
  sent: number;
  /** Of them, resends of an unchanged caret. */
  resends: number;
  sentPerKey: number;
}

function count(file: string, agents?: number[]): Counted {
  const trace = loadTrace(file);
  const times = trace.times;
  if (!times) throw new Error(`${file}: the resends need each transaction's time, and this trace has none`);
  const doc = new Y.Doc();
  const text = doc.getText('t');
  const last = new Map<number, { json: string; at: number }>();
  let sent = 0;
  let resends = 0;
  trace.txns.forEach((txn, i) => {
    const caret = applyEdit(text, txn);
    const author = agents?.[i] ?? 0;
    const json = JSON.stringify(Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, caret)));
    const before = last.get(author);
    const at = times[i]!;
    if (before && before.json === json && at - before.at < AWARENESS_RESEND_MS) return;
    if (before?.json === json) resends++;
    sent++;
    last.set(author, { json, at });
  });
  return { trace: trace.name, authors: new Set(agents ?? [0]).size, keys: trace.txns.length, sent, resends, sentPerKey: Math.round((sent / trace.txns.length) * 1000) / 1000 };
}

const results = [
  count(join(a.traces, 'sveltecomponent.json.gz')),
  count(join(a.traces, 'clownschool_flat.json.gz'), loadTraceAgents(join(a.traces, 'clownschool.json.gz'), join(a.traces, 'clownschool_flat.json.gz'))),
];
for (const r of results) {
  console.log(`${r.trace} (${r.authors} author${r.authors > 1 ? 's' : ''}): ${r.keys} keys, awareness updates ${r.keys} before, ${r.sent} now (${r.resends} of them resends): ${r.sentPerKey} per key`);
}
const file = join(PROJECT_ROOT, 'bench', 'results', `${a.name}.json`);
writeFileSync(file, JSON.stringify({ resendMs: AWARENESS_RESEND_MS, results }, null, 2) + '\n');
console.log(`wrote ${file}`);
