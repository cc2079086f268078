/**
 * Checks a client's Yjs update before it goes anywhere near the log, without
 * copying the document: decode it (garbage throws), make sure it only touches
 * the root type that document has, and count the characters it could insert.
 */
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { DuetError } from '../../shared/errors.js';
import type { DocName } from '../../shared/roles.js';

/** The root type of each document: `main` holds files (Y.Map path -> Y.Text), `notes` one Y.Text. */
export const ROOT_TYPE: Record<DocName, string> = { main: 'files', notes: 'notes' };

export interface UpdateInfo {
  /** Upper bound of characters the update adds (deletions ignored). */
  insertedChars: number;
  /**
   * The update needs structs `current` lacks. Yjs would park it as "pending",
   * and a document holding pending structs encodes lossily when they conflict
   * (fuzzing made joiners and snapshots diverge from existing clients that
   * way), so the node never lets one in: it catches up from the log, and
   * refuses what is still missing.
   */
  missing: boolean;
  /**
   * The update holds something `current` lacks: a struct past its state, or a
   * deletion of an item still there. Clients resend what they have after every
   * sync (Yjs includes the whole delete set), and logging those would fill the
   * log with events that change nothing. Meaningful only when not `missing`.
   */
  adds: boolean;
  /**
   * A struct starts below `current`'s state for its client and ends past it
   * (shared/yjs-overlap.ts says why that matters): logged cut to what the
   * node lacks, so clients of any make get an update they can apply.
   */
  overlaps: boolean;
  /** The Yjs client ids under which the update has structs `current` lacks (all of them without `current`). */
  writesAs: number[];
}

export function inspectUpdate(doc: DocName, update: Uint8Array, current?: Y.Doc): UpdateInfo {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    throw new DuetError('invalid_payload', 'update is not a valid Yjs update');
  }
  for (const ranges of decoded.ds.clients.values()) {
    // Yjs throws re-encoding an empty range it cannot apply yet (after logging it: see checkReferences).
    if (ranges.some((r) => !(r.len > 0))) throw new DuetError('invalid_payload', 'update has an empty delete range');
    if (ranges.some((r) => r.clock + r.len > MAX_CLOCK)) throw tooFar();
  }
  let insertedChars = 0;
  // Per client, the clock range this update carries: [first, end).
  const ranges = new Map<number, { first: number; end: number }>();
  let lastClient: number | undefined;
  for (const struct of decoded.structs) {
    // A Skip is a hole: a client whose document holds structs it could not
    // place yet sends one across the gap. It can come again once it has
    // what fills the gap: retryable.
    if (struct instanceof Y.Skip) throw new DuetError('unavailable', 'update has a gap (Skip struct); sync and send again');
    // Yjs's struct search throws on an empty struct; clocks past 2^53 lose their arithmetic.
    if (!(struct.length > 0)) throw new DuetError('invalid_payload', 'update has an empty struct');
    if (struct.id.clock + struct.length > MAX_CLOCK) throw tooFar();
    const r = ranges.get(struct.id.client);
    if (!r) ranges.set(struct.id.client, { first: struct.id.clock, end: struct.id.clock + struct.length });
    else if (struct.id.client !== lastClient) throw twice();
    else r.end = struct.id.clock + struct.length;
    lastClient = struct.id.client;
  }
  // Blocks of one client back to back read as one above; the header counts them apart.
  if (decoding.readVarUint(decoding.createDecoder(update)) !== ranges.size) throw twice();
  const find = structFinder(decoded.structs);
  const has = (client: number, clock: number): boolean => {
    if (current && clock < Y.getState(current.store, client)) return true;
    const r = ranges.get(client);
    return r !== undefined && r.first <= clock && clock < r.end;
  };
  let missing = false;
  let adds = !current;
  let overlaps = false;
  if (current) {
    for (const [client, r] of ranges) {
      const state = Y.getState(current.store, client);
      if (r.first > state) missing = true;
      if (r.end > state) adds = true;
    }
    for (const [client, dels] of decoded.ds.clients) {
      for (const d of dels) if (!has(client, d.clock + d.len - 1)) missing = true;
    }
    if (!adds && !missing) adds = deletesSomething(decoded.ds.clients, current);
  }
  for (const struct of decoded.structs) {
    if (current) {
      const state = Y.getState(current.store, struct.id.client);
      if (struct.id.clock < state && state < struct.id.clock + struct.length) overlaps = true;
    }
    if (!(struct instanceof Y.Item)) continue;
    checkReferences(struct, decoded.structs, find, current);
    if (current && !missing) {
      for (const ref of [struct.origin, struct.rightOrigin, struct.parent instanceof Y.ID ? struct.parent : null]) {
        if (ref && !has(ref.client, ref.clock)) missing = true;
      }
    }
    if (typeof struct.parent === 'string' && struct.parent !== ROOT_TYPE[doc]) {
      throw new DuetError('invalid_payload', `the ${doc} document has no root type "${struct.parent}"`);
    }
    if (struct.parentSub !== null && struct.parentSub.length > 200) {
      throw new DuetError('invalid_payload', 'file path too long');
    }
    // Every editor keeps LF line ends (Monaco's models, set to LF), and maps
    // its offsets one to one onto the text's: a CR, which a model would turn
    // into a line end of its own (CRLF one character for two), would put
    // every page's edits off. Browsers never send one; other clients may not.
    if (struct.content instanceof Y.ContentString && struct.content.str.includes('\r')) {
      throw new DuetError('invalid_payload', 'text holds a carriage return: documents keep LF line ends only');
    }
    // Text the same update also deletes does not grow the document: a client's
    // undone paste, sent later with what else the server lacks, carries both
    // (the undo keeps the content, for a redo).
    if (struct.content.isCountable()) insertedChars += struct.length - deletedWithin(decoded.ds.clients.get(struct.id.client), struct.id.clock, struct.length);
  }
  if (ranges.size > 1 && !missing) checkNoCycle(decoded.structs as Array<Y.Item | Y.GC>, find, current);
  if (current && !missing) checkShapes(doc, decoded.structs, find, current);
  const writesAs = [...ranges].filter(([client, r]) => !current || r.end > Y.getState(current.store, client)).map(([client]) => client);
  return { insertedChars, missing, adds, overlaps, writesAs };
}

/** Under its document's root type or inside a type nested in it, and whether it is a map entry (has a key). */
interface Place {
  root: boolean;
  keyed: boolean;
}

/**
 * The documents hold texts of characters and nothing else: `files` maps paths
 * to Y.Texts, a Y.Text holds characters. Anything else Yjs can carry (a plain
 * value or another type as a file, formatting, embeds, attributes, a text
 * inside a text) no client of Duet makes, no page shows, and none of it
 * counts as characters, so the size limit would not hold either.
 */
function checkShapes(doc: DocName, structs: Array<Y.Item | Y.GC | Y.Skip>, find: ReturnType<typeof structFinder>, current: Y.Doc): void {
  const known = new Map<number, Place | undefined>();
  // Yjs writes where an item sits only for an item with neither neighbour;
  // the others take their left neighbour's, or else their right one's.
  // Undefined when that neighbour is collected content: Yjs then drops the item.
  const placeOf = (start: number): Place | undefined => {
    const chain: number[] = [];
    let place: Place | undefined;
    // Items of one client refer only to earlier ones, and circles across clients were refused: the walk ends.
    for (let i: number | undefined = start; i !== undefined && chain.length <= structs.length; ) {
      if (known.has(i)) {
        place = known.get(i);
        break;
      }
      const s: Y.Item | Y.GC | Y.Skip = structs[i]!;
      if (!(s instanceof Y.Item)) break;
      chain.push(i);
      if (s.parent !== null) {
        place = { root: typeof s.parent === 'string', keyed: s.parentSub !== null };
        break;
      }
      const ref = s.origin ?? s.rightOrigin;
      if (!ref) break;
      if (ref.clock < Y.getState(current.store, ref.client)) {
        const neighbour = Y.getItem(current.store, ref);
        if (neighbour instanceof Y.Item) place = { root: (neighbour.parent as Y.AbstractType<unknown>)._item === null, keyed: neighbour.parentSub !== null };
        break;
      }
      i = find(ref.client, ref.clock);
    }
    for (const i of chain) known.set(i, place);
    return place;
  };
  structs.forEach((s, i) => {
    if (!(s instanceof Y.Item) || s.content instanceof Y.ContentDeleted) return;
    const place = placeOf(i);
    if (!place) return;
    if (doc === 'main' && place.root) {
      if (!place.keyed || !(s.content instanceof Y.ContentType) || s.content.type.constructor !== Y.Text) {
        throw new DuetError('invalid_payload', 'update puts something other than a text in the files map');
      }
    } else if (place.keyed || !(s.content instanceof Y.ContentString)) {
      throw new DuetError('invalid_payload', 'update puts something other than characters in a text (formatting, an embed, an attribute or a nested type)');
    }
  });
}

/** How many of the clocks [clock, clock + length) the delete ranges (sorted by clock, as Yjs encodes them) cover; out of order, fewer are found, never more. */
function deletedWithin(ranges: Array<{ clock: number; len: number }> | undefined, clock: number, length: number): number {
  if (!ranges) return 0;
  const end = clock + length;
  // The first range that ends after `clock`.
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid]!.clock + ranges[mid]!.len <= clock) lo = mid + 1;
    else hi = mid;
  }
  // Counted once where ranges overlap (a crafted update's may): never more than is really deleted.
  let covered = 0;
  let done = clock;
  for (let i = lo; i < ranges.length && ranges[i]!.clock < end; i++) {
    const from = Math.max(done, ranges[i]!.clock);
    const to = Math.min(end, ranges[i]!.clock + ranges[i]!.len);
    if (to > from) {
      covered += to - from;
      done = to;
    }
  }
  return covered;
}

/**
 * Yjs integrates an update's structs in an order their references allow and
 * parks those it cannot place as "pending" (see `missing`); structs that
 * refer to each other in a circle, across clients, are never placed, and a
 * later update retries them without any of the node's checks (the review of
 * the overlap fix found one crashing that way). An update is a piece of a
 * causal history, so an honest one has no circle. Needs two clients at least.
 */
function checkNoCycle(structs: Array<Y.Item | Y.GC>, find: ReturnType<typeof structFinder>, current: Y.Doc | undefined): void {
  /** The struct of this update holding (client, clock), unless the document already has it. */
  const holder = (client: number, clock: number): number | undefined =>
    current && clock < Y.getState(current.store, client) ? undefined : find(client, clock);
  const needs = (i: number): number[] => {
    const s = structs[i]!;
    const out: number[] = [];
    // Its own client's struct before it (and so, in a chain, all of them).
    if (i > 0 && structs[i - 1]!.id.client === s.id.client) out.push(i - 1);
    if (s instanceof Y.Item) {
      for (const ref of [s.origin, s.rightOrigin, s.parent instanceof Y.ID ? s.parent : null]) {
        const h = ref ? holder(ref.client, ref.clock) : undefined;
        if (h !== undefined) out.push(h);
      }
    }
    return out;
  };
  // Depth-first, without recursion: 0 not seen, 1 on the path, 2 done.
  const mark = new Uint8Array(structs.length);
  for (let root = 0; root < structs.length; root++) {
    if (mark[root]) continue;
    const stack: Array<{ i: number; next: number[] }> = [{ i: root, next: needs(root) }];
    mark[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const j = top.next.pop();
      if (j === undefined) {
        mark[top.i] = 2;
        stack.pop();
      } else if (mark[j] === 1) {
        throw new DuetError('invalid_payload', 'update has structs that refer to each other in a circle');
      } else if (mark[j] === 0) {
        mark[j] = 1;
        stack.push({ i: j, next: needs(j) });
      }
    }
  }
}

/**
 * Yjs applies only a client's last block of structs and parks it when the
 * dropped one held what it builds on: this check would have read structs
 * Yjs never applies. A Yjs client writes one block per client.
 */
const twice = () => new DuetError('invalid_payload', "update lists a client's structs twice");

/** Far past any clock a client reaches (one per character typed), and still exact in a double. */
const MAX_CLOCK = 2 ** 40;
const tooFar = () => new DuetError('invalid_payload', 'update has a clock out of range');

/** The index of the struct of `structs` (one block per client, in clock order) holding (client, clock). */
function structFinder(structs: ReadonlyArray<Y.Item | Y.GC | Y.Skip>): (client: number, clock: number) => number | undefined {
  const blocks = new Map<number, { first: number; last: number }>();
  structs.forEach((s, i) => {
    const b = blocks.get(s.id.client);
    if (b) b.last = i;
    else blocks.set(s.id.client, { first: i, last: i });
  });
  return (client, clock) => {
    const block = blocks.get(client);
    if (!block) return undefined;
    let lo = block.first;
    let hi = block.last;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = structs[mid]!;
      if (clock < s.id.clock) hi = mid - 1;
      else if (clock >= s.id.clock + s.length) lo = mid + 1;
      else return mid;
    }
    return undefined;
  };
}

/** Whether a delete set (of items `current` has) covers an item `current` has not deleted yet. */
function deletesSomething(clients: Map<number, Array<{ clock: number; len: number }>>, current: Y.Doc): boolean {
  for (const [client, dels] of clients) {
    for (const d of dels) {
      const end = d.clock + d.len;
      for (let clock = d.clock; clock < end; ) {
        // An Item or a GC (garbage-collected, so deleted) holding `clock`.
        const struct = Y.getItem(current.store, Y.createID(client, clock)) as Y.Item | Y.GC;
        if (struct instanceof Y.Item && !struct.deleted) return true;
        clock = struct.id.clock + struct.length;
      }
    }
  }
  return false;
}

/**
 * Yjs trusts the updates it integrates: an update that decodes can still
 * throw inside Y.applyUpdate, and by then the node has logged it, so every
 * later load of the interview would throw too. These are the shapes that do,
 * found by fuzzing; no Yjs client produces them. Read-only, no document copy.
 */
function checkReferences(item: Y.Item, structs: Array<Y.Item | Y.GC | Y.Skip>, find: ReturnType<typeof structFinder>, current: Y.Doc | undefined): void {
  const refs = [item.origin, item.rightOrigin, item.parent instanceof Y.ID ? item.parent : null];
  for (const ref of refs) {
    // A client's items only ever point at its own earlier ones; Yjs skips the
    // "is it there yet" check for those and crashes looking for it.
    if (ref && ref.client === item.id.client && ref.clock >= item.id.clock) {
      throw new DuetError('invalid_payload', 'update has an item that refers to itself or to a later item');
    }
  }
  if (item.parent instanceof Y.ID) {
    // The parent must be a type (Yjs reads `.content.type` of whatever is
    // there), or one deleted and collected since (its content is then
    // ContentDeleted, and Yjs collects the child too): a file replaced while
    // someone typed into the old one, which an honest client sends.
    const id = item.parent;
    const at = find(id.client, id.clock);
    let target: Y.Item | Y.GC | Y.Skip | undefined = at === undefined ? undefined : structs[at];
    if (!target && current && id.clock < Y.getState(current.store, id.client)) target = Y.getItem(current.store, id) as Y.Item | Y.GC;
    if (target instanceof Y.Item && !(target.content instanceof Y.ContentType) && !(target.content instanceof Y.ContentDeleted)) {
      throw new DuetError('invalid_payload', 'update has an item whose parent is not a type');
    }
  }
  // Subdocuments: nothing in Duet uses them, and each would be a live Y.Doc on the node.
  if (item.content instanceof Y.ContentDoc) throw new DuetError('invalid_payload', 'subdocuments are not supported');
  if (current) checkOriginOrder(item, current);
}

/**
 * An insert is made between its origin and its right origin, neighbours at
 * the time, and items never move, so in every replica the right origin lies
 * to the right of the origin, in the same type. An item claiming otherwise
 * is placed by Yjs wherever its scan for the right origin ends, which depends
 * on what else the replica holds: the node and the clients would put it in
 * different places (fuzzing found the text diverging that way). Checked where
 * both are already in the document; a walk along the type, as Yjs's own
 * integration does.
 */
function checkOriginOrder(item: Y.Item, current: Y.Doc): void {
  const { origin, rightOrigin } = item;
  if (!origin || !rightOrigin) return;
  const known = (id: Y.ID) => id.clock < Y.getState(current.store, id.client);
  if (!known(origin) || !known(rightOrigin)) return;
  const left = Y.getItem(current.store, origin);
  const right = Y.getItem(current.store, rightOrigin);
  // Garbage-collected: its place is gone, and Yjs treats it as no neighbour.
  if (!(left instanceof Y.Item) || !(right instanceof Y.Item)) return;
  const wrong = () => new DuetError('invalid_payload', 'update has an item whose right origin is not to the right of its origin');
  if (left.parent !== right.parent) throw wrong();
  if (left === right) {
    if (origin.clock >= rightOrigin.clock) throw wrong();
    return;
  }
  for (let n: Y.Item | null = left.right; n !== right; n = n.right) if (n === null) throw wrong();
}

/** Characters across the document's texts; O(files), not O(text). */
export function docChars(doc: DocName, ydoc: Y.Doc): number {
  if (doc === 'notes') return ydoc.getText('notes').length;
  let total = 0;
  for (const value of ydoc.getMap('files').values()) {
    if (value instanceof Y.Text) total += value.length;
  }
  return total;
}

/** The text of every file of a `main` document. */
export function filesOf(ydoc: Y.Doc): Record<string, string> {
  const files: Record<string, string> = {};
  const map = ydoc.getMap<Y.Text>('files');
  for (const path of [...map.keys()].sort()) {
    const value = map.get(path);
    if (value instanceof Y.Text) files[path] = value.toString();
  }
  return files;
}

/** The first update of a new interview's `main` document: one file, empty or holding `text`. */
export function seedMainDoc(file: string, text = ''): Uint8Array {
  const ydoc = new Y.Doc();
  ydoc.transact(() => {
    const ytext = new Y.Text();
    ydoc.getMap('files').set(file, ytext);
    if (text) ytext.insert(0, text);
  });
  const update = Y.encodeStateAsUpdate(ydoc);
  ydoc.destroy();
  return update;
}
