/**
 * server/rooms/yjs-checks.ts on hand-made updates: an insert whose right
 * origin is not to the right of its origin (no Yjs client makes one) is
 * refused, because replicas would place it differently; honest inserts pass.
 */
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { inspectUpdate } from '../server/rooms/yjs-checks.js';

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
