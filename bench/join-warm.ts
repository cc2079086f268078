/**
 * Join time of a small interview on nodes that have been up a while: what a
 * participant waits for in the common case (the cold load of a long document
 * is bench/join.ts). 40 joins one after another on node 2 of 2, the first 10
 * not counted; prints the median and p95 of connect → synced (the document
 * and `session` both in), and of each of the two alone.
 *
 *   npx tsx bench/join-warm.ts [--duet-root DIR]
 */
import { parseArgs } from 'node:util';
import { connectDuet } from './clients.js';
import { startCluster } from './systems/cluster.js';
import { signToken } from './tokens.js';

const { values: a } = parseArgs({ options: { 'duet-root': { type: 'string' } } });
const cluster = await startCluster({
  system: 'duet',
  nodes: 2,
  store: 'postgres',
  adapter: 'sharded',
  hpPersist: 'postgres',
  ...(a['duet-root'] ? { duetRoot: a['duet-root'] } : {}),
});
try {
  const admin = await signToken(cluster.secret, { role: 'admin', name: 'bench' });
  const res = await fetch(`${cluster.httpUrls[0]}/api/interviews`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'warm join', language: 'typescript' }),
  });
  const { id } = (await res.json()) as { id: string };
  // Someone already in the room, on the other node.
  const host = connectDuet({ url: cluster.urls[0]!, room: id, token: await signToken(cluster.secret, { role: 'interviewer', name: 'host', iid: id }) });
  await host.synced;
  const times = { synced: [] as number[], document: [] as number[], session: [] as number[] };
  for (let i = 0; i < 40; i++) {
    const token = await signToken(cluster.secret, { role: 'interviewer', name: `joiner ${i}`, iid: id });
    const started = performance.now();
    const c = connectDuet({ url: cluster.urls[1]!, room: id, token });
    const since = () => performance.now() - started;
    const [d, s] = await Promise.all([c.documentSynced.then(since), c.session.then(since)]);
    if (i >= 10) {
      times.synced.push(Math.max(d, s));
      times.document.push(d);
      times.session.push(s);
    }
    c.close();
    await new Promise((r) => setTimeout(r, 50));
  }
  host.close();
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((x, y) => x - y);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    return `median ${at(0.5)} ms, p95 ${at(0.95)} ms`;
  };
  console.log(
    `warm join of a small interview, ${times.synced.length} joins: ${summary(times.synced)} (the document alone ${summary(times.document)}; session alone ${summary(times.session)})`,
  );
} finally {
  await cluster.stop();
}
