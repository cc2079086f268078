/** The issue's targets, checked against a run's results. */
import type { BenchResults, Target } from './report.js';
import type { SystemName } from './workload.js';

export function targets(r: BenchResults): Target[] {
  const roomSteps = [...new Set(r.steps.map((s) => s.rooms))].sort((x, y) => x - y);
  const top = roomSteps.at(-1) ?? 0;
  const capText = (s: SystemName) => (r.capacity[s] >= top && top > 0 ? `≥ ${r.capacity[s]}` : String(r.capacity[s]));
  const at500 = (s: SystemName) => r.steps.find((x) => x.system === s && x.rooms === 500);
  const d = at500('duet');
  const h = at500('hocuspocus');
  const list: Target[] = [
    {
      what: 'cross-node p50 at 500 rooms × 4, 5 updates/s',
      goal: '≤ 3 ms',
      measured: d ? `${d.cross.p50} ms` : 'not run',
      met: d ? d.cross.p50 <= 3 : null,
    },
    {
      what: 'cross-node p99 at 500 rooms',
      goal: '≤ 20 ms',
      measured: d ? `${d.cross.p99} ms` : 'not run',
      met: d ? d.cross.p99 <= 20 : null,
    },
    {
      what: 'p99 vs Hocuspocus at 500 rooms, same run',
      goal: '≤ half',
      measured: d && h ? `${d.cross.p99} vs ${h.cross.p99} ms` : 'not run',
      met: d && h ? d.cross.p99 <= h.cross.p99 / 2 : null,
    },
    {
      what: 'capacity (p99 ≤ 50 ms, nothing lost)',
      goal: '≥ 2 × Hocuspocus',
      measured: `${capText('duet')} vs ${capText('hocuspocus')} rooms${roomSteps.length ? ` (steps ${roomSteps.join(', ')})` : ''}`,
      // A system that passed the largest step has a capacity the sweep did not find.
      met: !r.steps.length ? null : r.capacity.duet >= 2 * r.capacity.hocuspocus && r.capacity.duet > 0 ? true : r.capacity.duet >= top ? null : false,
    },
  ];
  const dm = r.memory.find((m) => m.system === 'duet');
  list.push({ what: 'memory per idle socket', goal: '≤ 20 KiB', measured: dm ? `${dm.heapPerSocketKiB} KiB heap, ${dm.rssPerSocketKiB} KiB RSS` : 'not run', met: dm ? Math.max(dm.heapPerSocketKiB, dm.rssPerSocketKiB) <= 20 : null });
  const big = r.steps.filter((s) => s.system === 'duet').sort((x, y) => y.rooms - x.rooms)[0];
  list.push({ what: 'memory per active room', goal: '≤ 1 MiB', measured: big ? `${big.heapPerRoomKiB} KiB heap, ${big.rssPerRoomKiB} KiB RSS (at ${big.rooms} rooms)` : 'not run', met: big ? Math.max(big.heapPerRoomKiB, big.rssPerRoomKiB) <= 1024 : null });
  const joins = r.join.filter((j) => j.system === 'duet');
  if (!joins.length) list.push({ what: 'cold join, 20k updates of history', goal: 'p95 ≤ 30 ms', measured: 'not run', met: null });
  // One row per kind of history: a recorded session and the synthetic stress case are both reported.
  for (const dj of joins) {
    list.push({ what: `cold join, ${dj.updates} updates of history (${dj.history ?? 'synthetic, 8 writers at once'})`, goal: 'p95 ≤ 30 ms', measured: `p95 ${dj.cold.p95} ms (${dj.cold.count} joins)`, met: dj.cold.p95 <= 30 && dj.failures === 0 });
  }
  return list;
}

