/**
 * Checks a client's Yjs update before it goes anywhere near the log, without
 * copying the document: decode it (garbage throws), make sure it only touches
 * the root type that document has, and count the characters it could insert.
 */
import * as Y from 'yjs';
import { DuetError } from '../../shared/errors.js';
import type { DocName } from '../../shared/roles.js';

/** The root type of each document: `main` holds files (Y.Map path -> Y.Text), `notes` one Y.Text. */
export const ROOT_TYPE: Record<DocName, string> = { main: 'files', notes: 'notes' };

export interface UpdateInfo {
  /** Upper bound of characters the update adds (deletions ignored). */
  insertedChars: number;
}

export function inspectUpdate(doc: DocName, update: Uint8Array): UpdateInfo {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    throw new DuetError('invalid_payload', 'update is not a valid Yjs update');
  }
  let insertedChars = 0;
  for (const struct of decoded.structs) {
    if (!(struct instanceof Y.Item)) continue;
    if (typeof struct.parent === 'string' && struct.parent !== ROOT_TYPE[doc]) {
      throw new DuetError('invalid_payload', `the ${doc} document has no root type "${struct.parent}"`);
    }
    if (struct.parentSub !== null && struct.parentSub.length > 200) {
      throw new DuetError('invalid_payload', 'file path too long');
    }
    if (struct.content.isCountable()) insertedChars += struct.length;
  }
  return { insertedChars };
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

/** The first update of a new interview's `main` document: one empty file. */
export function seedMainDoc(file: string): Uint8Array {
  const ydoc = new Y.Doc();
  ydoc.getMap('files').set(file, new Y.Text());
  const update = Y.encodeStateAsUpdate(ydoc);
  ydoc.destroy();
  return update;
}
