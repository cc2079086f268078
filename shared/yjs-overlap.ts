/**
 * Updates that carry part of a struct a document already has.
 *
 * Yjs integrates the rest of such a struct with the document's struct just
 * before it as its left neighbour, without the checks it makes on an
 * origin, and throws when that one is a GC, leaving the document part
 * applied (fuzzing found it: a node logged such an update, then every load
 * of the interview threw). An honest client sends one when an edit commits
 * while the sync carrying it again is on the way. Cut at the document's
 * state, as a sync's answer is, the rest has the struct before as its
 * origin, which every replica resolves the same way.
 */
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';

/** Whether some client's range in `update` starts below `doc`'s state for it and ends past it. */
export function overlapsDoc(update: Uint8Array, doc: Y.Doc): boolean {
  if (startsPastState(update, doc)) return false;
  const { from, to } = Y.parseUpdateMeta(update);
  for (const [client, first] of from) {
    const state = Y.getState(doc.store, client);
    if (first < state && state < (to.get(client) ?? 0)) return true;
  }
  return false;
}

/**
 * The common cases, read from the header alone (no struct decoded): one
 * client's structs from its state on, as every edit is, only deletions, or
 * a document that has nothing yet.
 */
export function startsPastState(update: Uint8Array, doc: Y.Doc): boolean {
  if (doc.store.clients.size === 0) return true; // a fresh joiner's first state: nothing to overlap
  try {
    const d = decoding.createDecoder(update);
    const clients = decoding.readVarUint(d);
    if (clients === 0) return true;
    if (clients > 1) return false;
    decoding.readVarUint(d); // how many structs
    const client = decoding.readVarUint(d);
    return decoding.readVarUint(d) >= Y.getState(doc.store, client);
  } catch {
    return false; // parseUpdateMeta, or Yjs itself, says what is wrong with it
  }
}

/** The part of `update` that `doc` lacks, cut at its state vector. */
export function cutToMissing(update: Uint8Array, doc: Y.Doc): Uint8Array {
  return Y.diffUpdate(update, Y.encodeStateVector(doc));
}

/**
 * Y.applyUpdate, cut first where it overlaps. Every place that applies a
 * logged or broadcast update goes through here, so no overlap the node's
 * check could not see (it arose after) makes any of them throw, and loads of
 * the log, the replay and browsers, applying the same updates in the same
 * order, cut them alike.
 */
export function applyUpdateCut(doc: Y.Doc, update: Uint8Array, origin?: unknown): void {
  Y.applyUpdate(doc, overlapsDoc(update, doc) ? cutToMissing(update, doc) : update, origin);
}
