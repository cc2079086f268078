import * as Y from 'yjs';

/** Did this Yjs transaction change the document (new structs or deletions), or was it empty? */
export function changesSomething(tr: Y.Transaction): boolean {
  return tr.deleteSet.clients.size > 0 || [...tr.afterState].some(([client, clock]) => tr.beforeState.get(client) !== clock);
}

/**
 * An update's delete set as a lookup: whether it deletes every one of
 * `length` characters of `client` from `clock` on. Ranges are sorted and
 * joined first, so a merged update's overlapping or touching ranges count.
 * Throws if the update does not decode.
 */
export function deletionsOf(update: Uint8Array): (client: number, clock: number, length?: number) => boolean {
  const byClient = new Map<number, Array<[number, number]>>();
  for (const [client, items] of Y.decodeUpdate(update).ds.clients) {
    const joined: Array<[number, number]> = [];
    for (const { clock, len } of [...items].sort((x, y) => x.clock - y.clock)) {
      const last = joined[joined.length - 1];
      if (last && clock <= last[1]) last[1] = Math.max(last[1], clock + len);
      else joined.push([clock, clock + len]);
    }
    byClient.set(client, joined);
  }
  return (client, clock, length = 1) => {
    const ranges = byClient.get(client) ?? [];
    // The last range starting at or before `clock`: the only one that can hold it.
    let lo = 0;
    let hi = ranges.length - 1;
    let holder: [number, number] | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]![0] <= clock) {
        holder = ranges[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return holder !== undefined && holder[1] >= clock + length;
  };
}
