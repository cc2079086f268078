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
 * the old file outside that set is one the renamer never had. Where that
 * reading falls short, and deletions, which are not put back (Yjs records no
 * deleter): docs/client.md, *Renames*.
 */
import * as Y from 'yjs';
import { FromServer } from './provider.js';
import { idsOf, sharedRuns, type TextIds } from './text-align.js';
import { deletionsOf } from './yjs-transactions.js';

/**
 * A deleted file and an added one are taken for a rename when at least this
 * share of what the renamer had of the old file lines up with the new one (a
 * sync after a time offline may bring several renames, or a file deleted and
 * an unrelated one added). Character diffs fragment, so no run length is
 * asked; two unrelated files that pass it get the typing in the wrong file,
 * where it shows, rather than nowhere.
 */
const MIN_SHARED = 0.5;

/**
 * A rename as every page makes it: a copy of `from` under `to` and `from`
 * deleted, in one transaction (a Y.Text cannot move between keys). False, and
 * nothing changed, if `from` is not there or `to` is taken.
 */
export function renameFile(files: Y.Map<Y.Text>, from: string, to: string): boolean {
  const old = files.get(from);
  if (!(old instanceof Y.Text) || files.has(to)) return false;
  const apply = () => {
    files.set(to, new Y.Text(old.toString()));
    files.delete(from);
  };
  if (files.doc) files.doc.transact(apply);
  else apply();
  return true;
}

/** Watches `files` (the `main` document's) for renames from the server; returns the unsubscribe. */
export function keepOwnEditsAcrossRenames(files: Y.Map<Y.Text>): () => void {
  const observer = (event: Y.YMapEvent<Y.Text>, tr: Y.Transaction) => {
    if (!(tr.origin instanceof FromServer)) return;
    const deleted: Y.Text[] = [];
    const added: Y.Text[] = [];
    for (const [key, change] of event.changes.keys) {
      if (change.action === 'delete' && change.oldValue instanceof Y.Text) deleted.push(change.oldValue);
      const value = change.action === 'add' ? files.get(key) : undefined;
      if (value instanceof Y.Text) added.push(value);
    }
    if (deleted.length === 0 || added.length === 0) return;
    const update = tr.origin.update;
    let renamerHad: ((client: number, clock: number) => boolean) | undefined;
    const puts: Array<{ file: Y.Text; at: Y.RelativePosition; text: string }> = [];
    for (const before of deleted) {
      const old = oldFile(before, tr);
      if (!old.clients.includes(tr.doc.clientID)) continue;
      renamerHad ??= deletionsOf(update);
      const missed = missedOf(old, tr.doc.clientID, renamerHad);
      if (!missed) continue;
      let best: { file: Y.Text; shared: number; inserts: Insert[] } | undefined;
      for (const file of added) {
        const placed = placeIn(file, old, missed, renamerHad, tr);
        // Nothing to compare: taken for a rename only when it is the one file deleted and the one added.
        const shared = placed.shared ?? (deleted.length === 1 && added.length === 1 ? MIN_SHARED : 0);
        if (shared >= MIN_SHARED && shared > (best?.shared ?? 0)) best = { file, shared, inserts: placed.inserts };
      }
      if (!best) continue;
      // Held as positions relative to the copy's characters: resolved once Yjs is done with this update.
      for (const ins of best.inserts) puts.push({ file: best.file, at: Y.createRelativePositionFromTypeIndex(best.file, ins.index), text: ins.text });
    }
    if (puts.length === 0) return;
    const doc = tr.doc;
    // After every observer of this update: edits made inside an observer
    // reach the Y.Text at once but its observers only later, so a Monaco
    // binding created meanwhile (the page following the rename) would read
    // them and then be told of them again.
    doc.once('afterAllTransactions', () => {
      // A transaction of this page's own: the provider sends it like typing.
      doc.transact(() => {
        for (const put of puts) {
          const at = Y.createAbsolutePositionFromRelativePosition(put.at, doc);
          if (at && at.type === put.file) put.file.insert(at.index, put.text);
        }
      });
    });
  };
  files.observe(observer);
  return () => files.unobserve(observer);
}

interface Insert {
  index: number;
  text: string;
}

/**
 * What the old file showed just before the transaction that deleted it: its
 * characters not deleted, or deleted by it (observers run before Yjs drops
 * their content), but not those it brought (an answer after a time offline
 * can bring a character and its deletion together).
 */
function oldFile(before: Y.Text, tr: Y.Transaction): TextIds {
  return idsOf(before, (item) => item.id.clock < (tr.beforeState.get(item.id.client) ?? 0) && (!item.deleted || Y.isDeleted(tr.deleteSet, item.id)));
}

/** Per character of the old file, whether it is this page's and the renamer lacked it; undefined when none is. */
function missedOf(old: TextIds, own: number, renamerHad: (client: number, clock: number) => boolean): boolean[] | undefined {
  const missed = old.clients.map((client, i) => client === own && !renamerHad(client, old.clocks[i]!));
  return missed.includes(true) ? missed : undefined;
}

/**
 * Where the missed characters go in `file`, taken as the old file's copy, left
 * to right; and how much of what the renamer had of the old file the copy
 * shares (0 to 1), to tell a rename from a file that merely came with it:
 * undefined when one side has nothing to compare.
 */
function placeIn(
  file: Y.Text,
  old: TextIds,
  missed: boolean[],
  renamerHad: (client: number, clock: number) => boolean,
  tr: Y.Transaction,
): { shared: number | undefined; inserts: Insert[] } {
  // What the renamer's page had: the old file without the missed characters
  // (nor other pages' characters the renamer lacked, which their own pages
  // put back); it lines up with the copy as it was made.
  const own = tr.doc.clientID;
  let seen = '';
  /** Per character of the old file: how many of the renamer's characters come before it. */
  const seenBefore: number[] = [];
  for (let i = 0; i < old.text.length; i++) {
    seenBefore.push(seen.length);
    if (old.clients[i] === own ? !missed[i] : renamerHad(old.clients[i]!, old.clocks[i]!)) seen += old.text[i];
  }
  // The copy as it came, with anything the renamer deleted from it in the same
  // update (a sync after a time offline carries both) while Yjs still has its
  // text, so positions are the copy's own; then each position counted in the
  // copy's current text. What the renamer deleted before sending it comes
  // without its text (Yjs drops a deleted item's content) and is skipped.
  const copyItems: Y.Item[] = [];
  const copy = idsOf(file, (item) => {
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
  const sharedChars = runs.reduce((n, r) => n + r.length, 0);
  // Of the smaller side: the renamer may have deleted most of the copy since, or typed much into it.
  const comparable = Math.min(seen.length, copy.text.length);
  // Nothing to compare: nothing the renamer had is left on this page (it
  // deleted it all, say, and typed its own), or the copy is empty (the renamer
  // had none of the text, or it is a new empty file: the two look the same).
  const shared = seen.length === 0 && copy.text.length === 0 ? 1 : comparable === 0 ? undefined : sharedChars / comparable;
  const toCopy = (p: number): number => {
    // After the renamer's character it followed: p characters of `seen` come before it.
    let q = 0;
    for (const r of runs) {
      if (r.aAt >= p) break;
      q = r.bAt + Math.min(p - r.aAt, r.length);
    }
    return liveBefore[q]!;
  };

  const inserts: Insert[] = [];
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
  return { shared, inserts };
}
