/**
 * server/rooms/yjs-checks.ts on hand-made updates: an insert whose right
 * origin is not to the right of its origin (no Yjs client makes one) is
 * refused, because replicas would place it differently; honest inserts pass.
 */
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { inspectUpdate } from '../server/rooms/yjs-checks.js';
import { applyUpdateCut, cutToMissing, overlapsDoc, startsPastState } from '../shared/yjs-overlap.js';
import { encodeBlocks } from './fuzz-kit.js';

/** One update carrying a single one-character insert by client 999, with the given origins. */
function insertBetween(origin: Y.ID, rightOrigin: Y.ID): Uint8Array {
  const item = new Y.Item(Y.createID(999, 0), null, origin, null, rightOrigin, null, null, new Y.ContentString('#'));
  const enc = new Y.UpdateEncoderV1();
  encoding.writeVarUint(enc.restEncoder, 1); // clients
  encoding.writeVarUint(enc.restEncoder, 1); // structs of this client
  enc.writeClient(999);
  encoding.writeVarUint(enc.restEncoder, 0); // first clock
  item.write(enc, 0);
  encoding.writeVarUint(enc.restEncoder, 0); // empty delete set
  return enc.toUint8Array();
}

/** `main.ts` = "abc" typed by client 1, then "XY" by client 2 between "a" and "b": items a, XY, bc. */
function document(): { doc: Y.Doc; a: Y.ID; b: Y.ID; c: Y.ID; x: Y.ID } {
  const one = new Y.Doc();
  one.clientID = 1;
  const text = new Y.Text();
  one.getMap('files').set('main.ts', text);
  text.insert(0, 'abc');
  const two = new Y.Doc();
  two.clientID = 2;
  Y.applyUpdate(two, Y.encodeStateAsUpdate(one));
  (two.getMap('files').get('main.ts') as Y.Text).insert(1, 'XY');
  Y.applyUpdate(one, Y.encodeStateAsUpdate(two));
  const start = Y.getState(one.store, 1) - 3;
  return { doc: one, a: Y.createID(1, start), b: Y.createID(1, start + 1), c: Y.createID(1, start + 2), x: Y.createID(2, 0) };
}

describe('yjs checks: origin order', () => {
  it('accepts inserts between neighbours, as clients make them, and they land where expected', () => {
    const { doc, a, b, c, x } = document();
    for (const [left, right] of [[b, c], [a, x], [x, b]] as const) {
      const update = insertBetween(left, right);
      expect(() => inspectUpdate('main', update, doc)).not.toThrow();
      expect(inspectUpdate('main', update, doc).missing).toBe(false);
    }
    Y.applyUpdate(doc, insertBetween(Y.createID(2, 1), Y.createID(1, b.clock)));
    expect((doc.getMap('files').get('main.ts') as Y.Text).toString()).toBe('aXY#bc');
  });

  it('refuses an insert whose right origin lies to the left of its origin', () => {
    const { doc, a, b, c, x } = document();
    // Inside one item (c before a), and across items (bc before XY).
    for (const [left, right] of [[c, a], [b, x], [c, x]] as const) {
      expect(() => inspectUpdate('main', insertBetween(left, right), doc)).toThrow(/right origin is not to the right/);
    }
  });
});

describe('yjs checks: a struct the node has part of', () => {
  /** Client 999's first struct as a GC (an update may carry one), and its two-character insert over the same clocks. */
  function overlapping(doc: Y.Doc, b: Y.ID, c: Y.ID): { gc: Uint8Array; insert: Uint8Array } {
    const gc = encodeBlocks([999, 0, [new Y.GC(Y.createID(999, 0), 1)]]);
    const insert = encodeBlocks([999, 0, [new Y.Item(Y.createID(999, 0), null, b, null, c, null, null, new Y.ContentString('##'))]]);
    expect(inspectUpdate('main', insert, doc).overlaps).toBe(false);
    return { gc, insert };
  }

  it('is cut to what the node lacks: Yjs crashes on the whole when the struct before is a GC, and takes the rest', () => {
    const { doc, b, c } = document();
    const { gc, insert } = overlapping(doc, b, c);
    Y.applyUpdate(doc, gc);
    const info = inspectUpdate('main', insert, doc);
    expect(info).toMatchObject({ missing: false, adds: true, overlaps: true });
    // The hazard itself, on a copy: Yjs integrates the rest against the GC and throws.
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
    expect(() => Y.applyUpdate(copy, insert)).toThrow();
    const rest = cutToMissing(insert, doc);
    expect(inspectUpdate('main', rest, doc)).toMatchObject({ missing: false, adds: true, overlaps: false });
    Y.applyUpdate(doc, rest);
    expect(Y.getState(doc.store, 999)).toBe(2);
    // The rest's origin is the GC: Yjs drops it as content with no place, on every replica alike.
    expect((doc.getMap('files').get('main.ts') as Y.Text).toString()).toBe('aXYbc');
  });

  it('an honest overlap (an edit committed while the sync carrying it again was on the way) lands as the client has it', () => {
    const { doc } = document();
    const client = new Y.Doc();
    client.clientID = 999;
    Y.applyUpdate(client, Y.encodeStateAsUpdate(doc));
    const before = Y.encodeStateVector(client);
    const text = client.getMap('files').get('main.ts') as Y.Text;
    text.insert(2, '#');
    const first = Y.encodeStateAsUpdate(client, before);
    text.insert(3, '#'); // merged with the first into one struct on the client
    const sync = Y.encodeStateAsUpdate(client, before);
    Y.applyUpdate(doc, first);
    expect(inspectUpdate('main', sync, doc)).toMatchObject({ missing: false, adds: true, overlaps: true });
    Y.applyUpdate(doc, cutToMissing(sync, doc));
    expect((doc.getMap('files').get('main.ts') as Y.Text).toString()).toBe(text.toString());
  });

  it("the node's cut, a fresh load of the log and a client applying the update as sent end in the same document", () => {
    const node = document();
    const { gc, insert } = overlapping(node.doc, node.b, node.c);
    // The node: checks, cuts, logs the cut.
    Y.applyUpdate(node.doc, gc);
    expect(inspectUpdate('main', insert, node.doc).overlaps).toBe(true);
    const logged = [gc, cutToMissing(insert, node.doc)];
    Y.applyUpdate(node.doc, logged[1]!);
    // A cold load: the log in one transaction, as Room.applyRead does.
    const load = document().doc;
    load.transact(() => logged.forEach((u) => applyUpdateCut(load, u)));
    // A client that got the update as sent (an overlap that arose after the node's check).
    const client = document().doc;
    applyUpdateCut(client, gc);
    expect(() => applyUpdateCut(client, insert)).not.toThrow();
    const [a, b, c] = [node.doc, load, client].map((d) => Buffer.from(Y.encodeStateAsUpdate(d)));
    expect(b!.equals(a!)).toBe(true);
    expect(c!.equals(a!)).toBe(true);
  });

  it('reads only the header of a one-client update past the state, of deletions alone, or for an empty document', () => {
    const { doc, b, c } = document();
    const { gc, insert } = overlapping(doc, b, c);
    expect(startsPastState(insert, doc)).toBe(true);
    expect(startsPastState(insert, new Y.Doc())).toBe(true);
    expect(startsPastState(new Uint8Array([0, 1, 1, 1, 0, 1]), doc)).toBe(true); // no structs, one deletion
    Y.applyUpdate(doc, gc);
    expect(startsPastState(insert, doc)).toBe(false);
    const other = new Y.Doc();
    other.getText('x').insert(0, 'z');
    expect(startsPastState(Y.mergeUpdates([Y.encodeStateAsUpdate(other), insert]), document().doc)).toBe(false);
  });

  it('tells an overlap from the header when one client wrote the update, and by decoding it otherwise', () => {
    const { doc, b, c } = document();
    const { gc, insert } = overlapping(doc, b, c);
    expect(overlapsDoc(insert, doc)).toBe(false);
    applyUpdateCut(doc, gc);
    expect(overlapsDoc(insert, doc)).toBe(true);
    // The same structs behind another client's: two clients, so the slow path.
    const other = new Y.Doc();
    other.clientID = 3;
    other.getText('x').insert(0, 'z');
    const both = Y.mergeUpdates([Y.encodeStateAsUpdate(other), insert]);
    expect(Y.parseUpdateMeta(both).from.size).toBe(2);
    expect(overlapsDoc(both, doc)).toBe(true);
    expect(overlapsDoc(Y.mergeUpdates([Y.encodeStateAsUpdate(other), gc]), doc)).toBe(false);
  });
});

describe('yjs checks: what Yjs would park for good', () => {
  const blocks = encodeBlocks;
  const text = (client: number, clock: number, origin: Y.ID | null, right: Y.ID | null, str: string) =>
    new Y.Item(Y.createID(client, clock), null, origin, null, right, null, null, new Y.ContentString(str));

  it("refuses a client's structs listed twice (Yjs keeps only the last block, and parks it)", () => {
    const { doc, b, c } = document();
    const twice = blocks([999, 0, [text(999, 0, b, c, 'A')]], [999, 3, [text(999, 3, b, c, 'CC')]]);
    expect(() => inspectUpdate('main', twice, doc)).toThrow(/structs twice/);
    // Even back to back: Yjs would still drop the first block.
    expect(() => inspectUpdate('main', blocks([999, 0, [text(999, 0, b, c, 'A')]], [999, 1, [text(999, 1, Y.createID(999, 0), c, 'B')]]), doc)).toThrow(/structs twice/);
    // What it guards against: Yjs parks the second block, and a later update retries it unchecked.
    Y.applyUpdate(doc, twice);
    expect(doc.store.pendingStructs).not.toBeNull();
  });

  it('refuses structs of two clients that refer to each other in a circle, and accepts the same two in order', () => {
    const { doc, b, c } = document();
    const circle = blocks([999, 0, [text(999, 0, b, Y.createID(77, 0), 'xxx')]], [77, 0, [text(77, 0, Y.createID(999, 1), c, 'z')]]);
    expect(() => inspectUpdate('main', circle, doc)).toThrow(/circle/);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
    Y.applyUpdate(copy, circle);
    expect(copy.store.pendingStructs).not.toBeNull();
    // z after the x's, the x's between b and c: a chain, not a circle.
    const chain = blocks([999, 0, [text(999, 0, b, c, 'xxx')]], [77, 0, [text(77, 0, Y.createID(999, 2), c, 'z')]]);
    expect(inspectUpdate('main', chain, doc)).toMatchObject({ missing: false, adds: true });
    Y.applyUpdate(doc, chain);
    expect(doc.store.pendingStructs).toBeNull();
    expect((doc.getMap('files').get('main.ts') as Y.Text).toString()).toBe('aXYbxxxzc');
  });

  it('refuses an empty struct and clocks out of range (Yjs throws applying them)', () => {
    const { doc, b, c } = document();
    const empty = blocks([999, 0, [text(999, 0, b, c, 'w'), new Y.Item(Y.createID(999, 1), null, Y.createID(999, 0), null, null, null, null, new Y.ContentDeleted(0))]]);
    expect(() => inspectUpdate('main', empty, doc)).toThrow(/empty struct/);
    const far = blocks([999, 0, [new Y.GC(Y.createID(999, 0), 2 ** 53 - 1)]]);
    expect(() => inspectUpdate('main', far, doc)).toThrow(/out of range/);
  });

  it('takes an insert into a file deleted meanwhile (its parent collected), as Yjs does: the insert is collected too', () => {
    const { doc } = document();
    const typist = new Y.Doc();
    typist.clientID = 999;
    Y.applyUpdate(typist, Y.encodeStateAsUpdate(doc));
    const fresh = new Y.Text();
    doc.getMap('files').set('util.ts', fresh); // a new, empty file...
    Y.applyUpdate(typist, Y.encodeStateAsUpdate(doc));
    const before = Y.encodeStateVector(typist);
    (typist.getMap('files').get('util.ts') as Y.Text).insert(0, 'x'); // ...someone types into it...
    const typed = Y.encodeStateAsUpdate(typist, before);
    doc.getMap('files').delete('util.ts'); // ...while it is deleted
    expect(() => inspectUpdate('main', typed, doc)).not.toThrow();
    Y.applyUpdate(doc, typed);
    expect(doc.store.pendingStructs).toBeNull();
    expect([...doc.getMap('files').keys()]).toEqual(['main.ts']);
  });

  it('answers a gap (what a client holding structs it cannot place sends) as retryable', () => {
    const { doc, b, c } = document();
    const skip = Y.mergeUpdates([blocks([999, 0, [text(999, 0, b, c, 'a')]]), blocks([999, 5, [text(999, 5, b, c, 'b')]])]);
    expect(() => inspectUpdate('main', skip, doc)).toThrow(expect.objectContaining({ code: 'unavailable' }));
  });
});

describe('yjs checks: inserted characters', () => {
  it('text the same update deletes does not count (an undone paste sent later), and overlapping delete ranges count once', () => {
    const { doc } = document();
    const client = new Y.Doc();
    Y.applyUpdate(client, Y.encodeStateAsUpdate(doc));
    const before = Y.encodeStateVector(client);
    const file = client.getMap('files').get('main.ts') as Y.Text;
    // An undo manager keeps the undone text for a redo: the update carries it, and deletes it.
    const undo = new Y.UndoManager(file);
    file.insert(0, 'x'.repeat(1000));
    undo.stopCapturing();
    file.insert(0, 'kept');
    undo.undo(); // removes "kept"
    undo.undo(); // removes the thousand x's
    file.insert(0, 'hi');
    const update = Y.encodeStateAsUpdate(client, before);
    expect(inspectUpdate('main', update, doc).insertedChars).toBe(2);

    // A crafted delete set listing one range twice still deletes it once.
    const plain = new Y.Doc();
    Y.applyUpdate(plain, Y.encodeStateAsUpdate(doc));
    const sv = Y.encodeStateVector(plain);
    (plain.getMap('files').get('main.ts') as Y.Text).insert(0, 'abcdefghij');
    const structs = Y.decodeUpdate(Y.encodeStateAsUpdate(plain, sv)).structs;
    const id = structs[0]!.id;
    const enc = new Y.UpdateEncoderV1();
    encoding.writeVarUint(enc.restEncoder, 1);
    encoding.writeVarUint(enc.restEncoder, structs.length);
    enc.writeClient(id.client);
    encoding.writeVarUint(enc.restEncoder, id.clock);
    for (const s of structs) (s as Y.Item).write(enc, 0);
    // The delete set, as Yjs writes one: clients, then per client its ranges.
    encoding.writeVarUint(enc.restEncoder, 1);
    enc.resetDsCurVal();
    encoding.writeVarUint(enc.restEncoder, id.client);
    encoding.writeVarUint(enc.restEncoder, 2);
    for (const [clock, len] of [
      [id.clock, 6],
      [id.clock + 2, 4],
    ] as const) {
      enc.writeDsClock(clock);
      enc.writeDsLen(len);
    }
    expect(inspectUpdate('main', enc.toUint8Array(), doc).insertedChars).toBe(4);
  });
});
