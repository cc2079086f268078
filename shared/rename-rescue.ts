/**
 * A page's own typing that someone else's rename missed, put back.
 *
 * A rename copies the file, as the renamer's page has it, into a new Y.Text
 * under the new name and deletes the old one (DESIGN: `files` maps a path to
 * a Y.Text, and a Y.Text cannot move between keys). What another page typed
 * into the old file that the renamer had not received (typed in the same
 * moment, or offline and sent on reconnecting) went into the deleted Y.Text:
 * logged, and shown nowhere. So each page, on receiving a rename, types its
 * own such characters again into the new file, where they were. Only its own:
 * every character has one author, so no two pages put back the same one, and
 * the replay credits them to whoever typed them.
 *
 * Which characters the renamer had is read, not guessed: deleting a Y.Text
 * deletes every character it holds, so the update that carries the rename
 * lists, in its delete set, each character of the old file the renamer had
 * (a sync's answer lists everything the server has deleted). A character of
 * the old file outside that set is one the renamer never had. The one case
 * this misses: a character the server had stored before the rename reached
 * it, which this page then learns of by a sync (after a reconnection) rather
 * than by the renamer's own update: the server's delete set holds it too.
 *
 * Deletions are not put back: a character this page deleted that the renamer
 * still had stays in the copy (Yjs records no deleter to tell whose it was).
 */
import * as Y from 'yjs';
import { FromServer } from './provider.js';
import { idsOf, sharedRuns } from './text-align.js';

/** Watches `files` (the `main` document's) for renames from the server; returns the unsubscribe. */
export function keepOwnEditsAcrossRenames(files: Y.Map<Y.Text>): () => void {
  const observer = (event: Y.YMapEvent<Y.Text>, tr: Y.Transaction) => {
    if (!(tr.origin instanceof FromServer)) return;
    // How a page renames: one key deleted and one added, in one transaction.
    const changes = [...event.changes.keys];
    const added = changes.filter(([, c]) => c.action === 'add');
    const deleted = changes.filter(([, c]) => c.action === 'delete');
    if (added.length !== 1 || deleted.length !== 1) return;
    const before = deleted[0]![1].oldValue as unknown;
    const after = files.get(added[0]![0]);
    if (!(before instanceof Y.Text) || !(after instanceof Y.Text)) return;
    const inserts = missedByRename(before, after, tr, tr.origin.update);
    if (inserts.length === 0) return;
    // A transaction of this page's own: the provider sends it like typing.
    files.doc!.transact(() => {
      // Right to left: each index was worked out on the copy before any insert.
      for (let i = inserts.length - 1; i >= 0; i--) after.insert(inserts[i]!.index, inserts[i]!.text);
    });
  };
  files.observe(observer);
  return () => files.unobserve(observer);
}

/**
 * This page's characters in `before` (the old file, deleted by `tr`) that the
 * rename's update did not delete, with where each run of them goes in
 * `after` (the copy), left to right.
 */
export function missedByRename(before: Y.Text, after: Y.Text, tr: Y.Transaction, update: Uint8Array): Array<{ index: number; text: string }> {
  const own = tr.doc.clientID;
  // What the old file showed just before the transaction: its characters not
  // deleted, or deleted by it (observers run before Yjs drops their content).
  const old = idsOf(before, (item) => !item.deleted || Y.isDeleted(tr.deleteSet, item.id));
  if (!old.clients.includes(own)) return [];
  const renamerHad = deletedIds(update);
  const missed = old.clients.map((client, i) => client === own && !renamerHad(client, old.clocks[i]!));
  if (!missed.includes(true)) return [];

  // Where the renamer's page had each character: the old file without the
  // missed ones (and without other pages' characters the renamer lacked, put
  // back by their own pages) lines up with the copy as it was made.
  let seen = '';
  /** Per character of the old file: how many of the renamer's characters come before it. */
  const seenBefore: number[] = [];
  for (let i = 0; i < old.text.length; i++) {
    seenBefore.push(seen.length);
    if (old.clients[i] === own ? !missed[i] : renamerHad(old.clients[i]!, old.clocks[i]!)) seen += old.text[i];
  }
  // The copy as it came, with anything the renamer deleted from it in the same
  // update (a sync after a time offline carries both), so positions are the
  // copy's own; then each position counted in the copy's current text.
  const copyItems: Y.Item[] = [];
  const copy = idsOf(after, (item) => {
    const keep = !item.deleted || Y.isDeleted(tr.deleteSet, item.id);
    if (keep) for (let i = 0; i < item.length; i++) copyItems.push(item);
    return keep;
  });
  const liveBefore: number[] = [];
  let live = 0;
  for (const item of copyItems) {
    liveBefore.push(live);
    if (!item.deleted) live++;
  }
  liveBefore.push(live);
  const runs = sharedRuns(seen, copy.text);
  const toCopy = (p: number): number => {
    // After the renamer's character it followed: p characters of `seen` come before it.
    let q = 0;
    for (const r of runs) {
      if (r.aAt >= p) break;
      q = r.bAt + Math.min(p - r.aAt, r.length);
    }
    return liveBefore[q]!;
  };

  const inserts: Array<{ index: number; text: string }> = [];
  for (let i = 0; i < old.text.length; ) {
    if (!missed[i]) {
      i++;
      continue;
    }
    let end = i;
    while (end < old.text.length && missed[end]) end++;
    const index = toCopy(seenBefore[i]!);
    const last = inserts[inserts.length - 1];
    // Runs split only by characters the renamer lacked go in together.
    if (last && last.index === index) last.text += old.text.slice(i, end);
    else inserts.push({ index, text: old.text.slice(i, end) });
    i = end;
  }
  return inserts;
}

/** Whether the update deletes the character with this id. */
function deletedIds(update: Uint8Array): (client: number, clock: number) => boolean {
  const byClient = new Map<number, Array<[number, number]>>();
  for (const [client, items] of Y.decodeUpdate(update).ds.clients) {
    byClient.set(client, items.map((d): [number, number] => [d.clock, d.clock + d.len]).sort((x, y) => x[0] - y[0]));
  }
  return (client, clock) => {
    const ranges = byClient.get(client);
    if (!ranges) return false;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [from, to] = ranges[mid]!;
      if (clock < from) hi = mid - 1;
      else if (clock >= to) lo = mid + 1;
      else return true;
    }
    return false;
  };
}
