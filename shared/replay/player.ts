/**
 * A cursor over a ReplayTimeline: seek to any event or instant and read the
 * state there. Seeking forward applies the events in between; seeking back, or
 * past a checkpoint, restores the newest checkpoint at or before the target and
 * applies the short tail after it.
 */
import * as Y from 'yjs';
import type { DocName } from '../roles.js';
import { DocSet } from './doc-set.js';
import type { ReplayTimeline } from './timeline.js';
import type { AttributedRun, AuthorCursor, ReplayState } from './types.js';

export class ReplayPlayer {
  private set: DocSet;

  constructor(private readonly timeline: ReplayTimeline) {
    this.set = new DocSet(timeline.initialLanguage);
  }

  /** Events applied in the current state. */
  get index(): number {
    return this.set.index;
  }

  /** Moves to the state after `index` events (clamped to what is loaded) and returns it. */
  seek(index: number): ReplayState {
    this.moveTo(index);
    return this.state();
  }

  /** Like seek, without building the state (for playback loops that read only part of it). */
  moveTo(index: number): void {
    const target = Math.max(0, Math.min(Math.floor(index), this.timeline.length));
    const checkpoint = this.timeline.checkpointFor(target);
    const from = checkpoint?.index ?? 0;
    // Back in time: restore. Forward: restore only when the checkpoint saves more
    // than an interval of events (applying one costs ~100x less than restoring).
    if (target < this.set.index || from - this.set.index > this.timeline.checkpointEvery) {
      this.set.destroy();
      this.set = new DocSet(this.timeline.initialLanguage, checkpoint);
    }
    const { events, updates } = this.timeline;
    while (this.set.index < target) this.set.apply(events[this.set.index]!, updates[this.set.index]!);
  }

  /** Moves to the instant `ms` milliseconds after the first event. */
  seekTime(ms: number): ReplayState {
    return this.seek(this.timeline.indexAtTime(ms));
  }

  /** One more event (playback); returns false at the end of what is loaded. */
  step(): boolean {
    if (this.set.index >= this.timeline.length) return false;
    this.moveTo(this.set.index + 1);
    return true;
  }

  state(): ReplayState {
    const s = this.set;
    return {
      index: s.index,
      seq: s.seq,
      at: s.at,
      files: s.files(),
      notes: s.notes.getText('notes').toString(),
      chat: this.timeline.chatUntil(s.index),
      signals: this.timeline.signalsUntil(s.index),
      participants: this.timeline.participants(s.online),
      language: s.language,
      ended: s.ended,
    };
  }

  /** The text of one file (or of `notes`) in the current state; '' when absent. */
  text(doc: DocName = 'main', path?: string): string {
    return this.set.text(doc, path)?.toString() ?? '';
  }

  /** Who wrote each character of a file (or of `notes`), as runs in the current text. */
  attribution(doc: DocName = 'main', path?: string): AttributedRun[] {
    const text = this.set.text(doc, path);
    const runs: AttributedRun[] = [];
    if (!text) return runs;
    let pos = 0;
    const origins = this.set.origins();
    for (let item = text._start; item !== null; item = item.right) {
      if (item.deleted || !item.countable) continue;
      // A renamed file's characters are the renamer's copies: credited to whoever wrote them first.
      for (const [length, client] of origins.origins(item.id.client, item.id.clock, item.length)) {
        const author = this.timeline.authorOf(client)?.sub ?? null;
        const last = runs[runs.length - 1];
        if (last && last.author === author) last.to += length;
        else runs.push({ from: pos, to: pos + length, author });
        pos += length;
      }
    }
    return runs;
  }

  /** Each author's last edit position per document, resolved in the current state. */
  cursors(): AuthorCursor[] {
    const out: AuthorCursor[] = [];
    for (const mark of this.set.cursors.values()) {
      const author = this.timeline.actors.get(mark.sub);
      const ydoc = mark.doc === 'main' ? this.set.main : this.set.notes;
      const abs = Y.createAbsolutePositionFromRelativePosition(mark.pos, ydoc);
      if (!author || !abs) continue;
      let path: string | null = null;
      if (mark.doc === 'main') {
        const key = abs.type._item?.parentSub ?? null;
        // The file may have been deleted or replaced since.
        if (key === null || this.set.main.getMap('files').get(key) !== abs.type) continue;
        path = key;
      }
      out.push({ author, doc: mark.doc, path, index: abs.index, seq: mark.seq, at: mark.at });
    }
    return out;
  }

  destroy(): void {
    this.set.destroy();
  }
}
