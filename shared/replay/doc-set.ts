/**
 * The replayable state at one point of the log: the two Yjs documents plus the
 * few scalars the log changes (language, ended, who is online, where each
 * author last edited). Applying events one by one moves it forward; a
 * checkpoint is its serialised form, and restoring one is how seeking avoids
 * replaying from the start.
 */
import * as Y from 'yjs';
import type { LoggedEvent } from '../protocol.js';
import type { DocName } from '../roles.js';
import { applyUpdateCut } from '../yjs-overlap.js';
import { copiesOfRename, CopyIndex, type Copy } from './copies.js';

export interface CursorMark {
  sub: string;
  doc: DocName;
  /** Relative, so it moves with later edits by others, as a cursor does. */
  pos: Y.RelativePosition;
  seq: number;
  at: string;
}

/** The text one event inserted into `main`, where most of it went. */
export interface Insertion {
  chars: number;
  path: string | null;
  /**
   * Of `chars`, those that put back text deleted before, where it was: what
   * Yjs's undo (and redo) does, each character a new item whose right origin
   * is the deleted one and whose text is the same. Counted only on a DocSet
   * made with `{ restores: true }` (the timeline's), else 0.
   */
  restored: number;
}

/**
 * Deleted text a DocSet keeps for `restored`, oldest dropped first: far more
 * than any undo brings back. Each entry counts its characters and 64 more,
 * for what the map spends on it (a session of one-character deletions).
 */
const DELETED_TEXT_KEPT_CHARS = 1_000_000;
const DELETED_ENTRY_COST = 64;

export interface FileChange {
  action: 'add' | 'delete' | 'rename' | 'replace';
  path: string;
  /** For `rename`: the old path. */
  from?: string;
}

/** A serialised DocSet; its Yjs states are V2 updates (about half the size of V1 here). */
export interface Checkpoint {
  index: number;
  seq: number;
  at: string | null;
  main: Uint8Array;
  notes: Uint8Array;
  language: string | null;
  ended: boolean;
  online: ReadonlyArray<readonly [string, readonly string[]]>;
  cursors: ReadonlyArray<readonly [string, CursorMark]>;
  copies: readonly Copy[];
}

/**
 * Garbage collection on (the default): a deleted character keeps its item and
 * id (only its content is dropped), so cursors next to deleted text still
 * resolve, and restoring a checkpoint is ~8x faster than with gc off (measured
 * on the sveltecomponent trace: 2.4 ms against 21 ms).
 */
function newDoc(): Y.Doc {
  return new Y.Doc();
}

export class DocSet {
  main = newDoc();
  notes = newDoc();
  /** Events applied so far. */
  index = 0;
  seq = 0;
  at: string | null = null;
  language: string | null;
  ended = false;
  /**
   * sub -> its open connections (`data.conn` of a join not left yet), in the
   * order people first joined; online while any is open. By connection, not
   * a count: a second leave of one connection (a dead node's, logged by
   * another node as lost while its own came late) must not take another tab
   * offline.
   */
  online = new Map<string, Set<string>>();
  /** `${sub} ${doc}` -> last edit. */
  cursors = new Map<string, CursorMark>();
  /** The characters renames copied, for authorship (copies.ts). */
  copies: Copy[] = [];
  private copyIndex: { count: number; index: CopyIndex } | undefined;
  /** File changes of the event being applied (filled by the observer). */
  private changes: FileChange[] = [];
  private lastEdit: Y.RelativePosition | null = null;
  private inserted: Insertion = { chars: 0, path: null, restored: 0 };
  /** Text deleted from `main`'s files, by the id of the item that held it (`restores` only). */
  private readonly deletedText: Map<string, string> | undefined;
  private deletedChars = 0;

  constructor(initialLanguage: string | null, checkpoint?: Checkpoint, options: { restores?: boolean } = {}) {
    this.language = initialLanguage;
    if (options.restores) this.deletedText = new Map();
    if (checkpoint) {
      Y.applyUpdateV2(this.main, checkpoint.main);
      Y.applyUpdateV2(this.notes, checkpoint.notes);
      this.index = checkpoint.index;
      this.seq = checkpoint.seq;
      this.at = checkpoint.at;
      this.language = checkpoint.language;
      this.ended = checkpoint.ended;
      this.online = new Map(checkpoint.online.map(([sub, conns]) => [sub, new Set(conns)]));
      this.cursors = new Map(checkpoint.cursors);
      this.copies = [...checkpoint.copies];
    }
    this.observe();
  }

  private observe(): void {
    const files = this.main.getMap('files');
    files.observeDeep((events, tr) => {
      const added: string[] = [];
      const deleted: Array<{ path: string; old: unknown }> = [];
      for (const e of events) {
        if (e instanceof Y.YMapEvent && e.target === files) {
          for (const [path, change] of e.changes.keys) {
            if (change.action === 'add') added.push(path);
            else if (change.action === 'delete') deleted.push({ path, old: change.oldValue });
            else this.changes.push({ action: 'replace', path });
          }
        }
      }
      // One add and one delete in one transaction is how a client renames a file.
      if (added.length === 1 && deleted.length === 1) {
        this.changes.push({ action: 'rename', path: added[0]!, from: deleted[0]!.path });
        const before = deleted[0]!.old;
        const after = files.get(added[0]!);
        if (before instanceof Y.Text && after instanceof Y.Text) {
          const made = copiesOfRename(before, after, tr);
          this.copies.push(...made);
          this.followRename(made, before, tr);
        }
      } else {
        for (const path of added) this.changes.push({ action: 'add', path });
        for (const { path } of deleted) this.changes.push({ action: 'delete', path });
      }
    });
    this.main.on('afterTransaction', (tr: Y.Transaction) => {
      this.noteEdit(tr);
      this.noteInsertion(tr);
      // Here the deleted items still hold their text: the collector takes it after this event.
      if (this.deletedText) this.noteDeletion(tr, this.deletedText);
    });
    this.notes.on('afterTransaction', (tr: Y.Transaction) => this.noteEdit(tr));
  }

  /**
   * Where an edit ended, as a relative position built from item ids: just after
   * the last character it inserted, else where it deleted. Never an index: a
   * YTextEvent's delta walks the whole text, which made long replays quadratic.
   */
  private noteEdit(tr: Y.Transaction): void {
    const store = tr.doc.store;
    for (const [client, after] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0;
      for (let clock = after - 1; clock >= before; ) {
        const struct = Y.getItem(store, Y.createID(client, clock));
        if (struct instanceof Y.Item && struct.countable && struct.parent instanceof Y.Text) {
          this.lastEdit = Y.createRelativePositionFromJSON({ item: { client, clock }, assoc: -1 });
          return;
        }
        clock = struct.id.clock - 1;
      }
    }
    for (const [client, deletions] of tr.deleteSet.clients) {
      for (const d of deletions) {
        const struct = Y.getItem(store, Y.createID(client, d.clock));
        if (struct instanceof Y.Item && struct.parent instanceof Y.Text) {
          this.lastEdit = Y.createRelativePositionFromJSON({ item: { client, clock: d.clock }, assoc: 0 });
          return;
        }
      }
    }
  }

  /**
   * Carets on characters of a renamed file move to the same characters of its
   * copy: left on the old file's, they would point into a deleted file and
   * vanish from the replay at every rename.
   */
  private followRename(made: readonly Copy[], renamed: Y.Text, tr: Y.Transaction): void {
    const copyOf = (client: number, clock: number) => made.find((c) => c.fromClient === client && clock >= c.fromClock && clock < c.fromClock + c.length);
    const at = (copy: Copy, clock: number, assoc: number) => ({ item: { client: copy.client, clock: copy.clock + clock - copy.fromClock }, assoc });
    for (const [key, mark] of this.cursors) {
      const item = mark.pos.item;
      if (mark.doc !== 'main' || !item) continue;
      const copy = copyOf(item.client, item.clock);
      let moved = copy && at(copy, item.clock, mark.pos.assoc);
      if (!moved) {
        // On text the copy does not have (a deletion's mark, or a character deleted since):
        // after the nearest character to its left that it has, else at the copy's start.
        let struct: Y.Item | Y.GC | Y.Skip | undefined;
        try {
          struct = Y.getItem(this.main.store, item);
        } catch {
          continue; // not in this document: not a file's
        }
        if (!(struct instanceof Y.Item) || struct.parent !== renamed) continue;
        for (let left = struct.left; left && !moved; left = left.left) {
          // The rename deleted the whole file: what it deleted was still there to copy.
          if (!left.countable || (left.deleted && !Y.isDeleted(tr.deleteSet, left.id))) continue;
          const last = left.id.clock + left.length - 1;
          const from = copyOf(left.id.client, last);
          if (from) moved = at(from, last, -1);
        }
        if (!moved && made[0]) moved = at(made[0], made[0].fromClock, 0);
      }
      if (moved) this.cursors.set(key, { ...mark, pos: Y.createRelativePositionFromJSON(moved) });
    }
  }

  /** Characters of text the transaction inserted into `main`'s files, and the file that took most. */
  private noteInsertion(tr: Y.Transaction): void {
    const perPath = new Map<string, number>();
    let restored = 0;
    for (const [client, after] of tr.afterState) {
      for (let clock = tr.beforeState.get(client) ?? 0; clock < after; ) {
        const struct = Y.getItem(tr.doc.store, Y.createID(client, clock));
        if (struct instanceof Y.Item && struct.countable && struct.parent instanceof Y.Text) {
          const path = (struct.parent._item?.parentSub as string | null | undefined) ?? '';
          // Only what this transaction wrote of the item (Yjs may have merged it with earlier text).
          const from = Math.max(clock, struct.id.clock);
          perPath.set(path, (perPath.get(path) ?? 0) + struct.id.clock + struct.length - from);
          if (from === struct.id.clock && this.restores(struct)) restored += struct.length;
        }
        clock = struct.id.clock + struct.length;
      }
    }
    let chars = 0;
    let path: string | null = null;
    for (const [p, n] of perPath) {
      chars += n;
      if (path === null || n > perPath.get(path)!) path = p;
    }
    this.inserted = { chars: this.inserted.chars + chars, path: path ?? this.inserted.path, restored: this.inserted.restored + restored };
  }

  /** Whether a new item puts back deleted text where it was (Insertion.restored). */
  private restores(item: Y.Item): boolean {
    const origin = item.rightOrigin;
    if (!this.deletedText || origin === null || !(item.content instanceof Y.ContentString)) return false;
    return this.deletedText.get(`${origin.client}:${origin.clock}`) === item.content.str;
  }

  private noteDeletion(tr: Y.Transaction, kept: Map<string, string>): void {
    Y.iterateDeletedStructs(tr, tr.deleteSet, (struct) => {
      if (!(struct instanceof Y.Item && struct.content instanceof Y.ContentString && struct.parent instanceof Y.Text)) return;
      kept.set(`${struct.id.client}:${struct.id.clock}`, struct.content.str);
      this.deletedChars += struct.content.str.length + DELETED_ENTRY_COST;
    });
    for (const [key, text] of kept) {
      if (this.deletedChars <= DELETED_TEXT_KEPT_CHARS) break;
      kept.delete(key);
      this.deletedChars -= text.length + DELETED_ENTRY_COST;
    }
  }

  /** What the last applied event inserted into `main` (a rename's copy included). */
  get lastInsertion(): Insertion {
    return this.inserted;
  }

  /** Applies one logged event (its Yjs update already decoded); returns the file changes it made. */
  apply(event: LoggedEvent, update: Uint8Array | null): FileChange[] {
    this.changes = [];
    this.lastEdit = null;
    this.inserted = { chars: 0, path: null, restored: 0 };
    switch (event.type) {
      case 'doc': {
        const doc: DocName = event.data.doc === 'notes' ? 'notes' : 'main';
        // The seed event carries the interview's first language.
        if (this.language === null && typeof event.data.language === 'string') this.language = event.data.language;
        if (update) applyUpdateCut(doc === 'main' ? this.main : this.notes, update);
        // The seed (the log's first event, starter code and all) was written
        // before anyone joined: no one's caret stands at its end. Nor does a
        // renamer's at the end of the copy their rename made: they typed none of it.
        if (this.lastEdit && this.index > 0 && !this.changes.some((c) => c.action === 'rename')) {
          this.cursors.set(`${event.actor.sub} ${doc}`, {
            sub: event.actor.sub,
            doc,
            pos: this.lastEdit,
            seq: event.seq,
            at: event.at,
          });
        }
        break;
      }
      case 'join': {
        const conns = this.connectionsOf(event.actor.sub);
        // Logs from before joins named their connection count each join as one.
        conns.add(typeof event.data.conn === 'string' ? event.data.conn : `#${event.seq}`);
        break;
      }
      case 'leave': {
        const conns = this.connectionsOf(event.actor.sub);
        if (typeof event.data.conn === 'string') conns.delete(event.data.conn);
        else conns.delete(conns.values().next().value ?? '');
        break;
      }
      case 'language':
        if (typeof event.data.language === 'string') this.language = event.data.language;
        break;
      case 'end':
        this.ended = true;
        // The log records no presence after the end: nobody is shown online.
        for (const conns of this.online.values()) conns.clear();
        break;
      default:
        break;
    }
    this.index++;
    this.seq = event.seq;
    this.at = event.at;
    return this.changes;
  }

  private connectionsOf(sub: string): Set<string> {
    let conns = this.online.get(sub);
    if (!conns) this.online.set(sub, (conns = new Set()));
    return conns;
  }

  checkpoint(): Checkpoint {
    return {
      index: this.index,
      seq: this.seq,
      at: this.at,
      main: Y.encodeStateAsUpdateV2(this.main),
      notes: Y.encodeStateAsUpdateV2(this.notes),
      language: this.language,
      ended: this.ended,
      online: [...this.online].map(([sub, conns]) => [sub, [...conns]] as const),
      cursors: [...this.cursors],
      copies: [...this.copies],
    };
  }

  /** Where renamed characters came from (copies.ts). */
  origins(): CopyIndex {
    if (this.copyIndex?.count !== this.copies.length) this.copyIndex = { count: this.copies.length, index: new CopyIndex(this.copies) };
    return this.copyIndex.index;
  }

  files(): Record<string, string> {
    const files: Record<string, string> = {};
    const map = this.main.getMap('files');
    for (const path of [...map.keys()].sort()) {
      const value = map.get(path);
      if (value instanceof Y.Text) files[path] = value.toString();
    }
    return files;
  }

  text(doc: DocName, path?: string): Y.Text | undefined {
    if (doc === 'notes') return this.notes.getText('notes');
    const value = path === undefined ? undefined : this.main.getMap('files').get(path);
    return value instanceof Y.Text ? value : undefined;
  }

  destroy(): void {
    this.main.destroy();
    this.notes.destroy();
  }
}

