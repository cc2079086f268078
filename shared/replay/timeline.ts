/**
 * The loaded log, indexed for replay: decoded updates, event times, chat and
 * signals in order, timeline markers, which Yjs client belongs to which author,
 * and checkpoints. Pages are appended as they arrive (the page loads
 * progressively); checkpoints are taken by a "head" DocSet that applies each
 * event once while loading.
 */
import * as Y from 'yjs';
import type { Actor, ChatMessage, LoggedEvent, Participant } from '../protocol.js';
import { decodeBase64 } from './base64.js';
import { LARGE_INSERTION_CHARS } from '../limits.js';
import { DocSet, type Checkpoint, type FileChange } from './doc-set.js';
import type { Marker, SignalMark } from './types.js';

export interface TimelineOptions {
  /** A checkpoint after every this many `doc` events (default 1000, from bench/replay-seek.ts; Infinity for none). */
  checkpointEvery?: number;
  /** The language before the first `language` event, when the seed event does not carry it. */
  initialLanguage?: string | null;
}

export const DEFAULT_CHECKPOINT_EVERY = 1000;

const SIGNAL_LABELS: Record<string, string> = {
  paste: 'pasted',
  blur: 'editor lost focus',
  focus: 'editor regained focus',
  hidden: 'tab hidden',
  visible: 'tab visible again',
};

/**
 * A leave is logged when the death of its node was noticed, after its last
 * heartbeat (`lastSeen`): the node's threshold later, or less where the
 * process was seen to end (a second for a cluster's worker, a quarter of the
 * threshold and a second on the same machine), so the label says
 * how much earlier the connection may have ended. Leaves from before
 * `lastSeen` was recorded have none; one that reads as after the leave comes
 * from two clocks (the database's, the logging node's) too far apart to tell.
 */
function lostLeaveLabel(name: string, event: LoggedEvent): string {
  const ago = Math.round((Date.parse(event.at) - Date.parse(String(event.data.lastSeen))) / 1000);
  if (!(ago >= 0)) return `${name} left (their connection's node went down)`;
  const span = ago < 120 ? `${ago} s` : ago < 7200 ? `${Math.round(ago / 60)} min` : `${Math.round(ago / 3600)} h`;
  return `${name} left (their connection's node went down; last heard from ${span} before)`;
}

function clip(text: string, n = 80): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

export class ReplayTimeline {
  readonly events: LoggedEvent[] = [];
  /** The decoded Yjs update of each `doc` event; null for the others. */
  readonly updates: Array<Uint8Array | null> = [];
  /** Epoch milliseconds of each event, never earlier than the event before it. */
  readonly times: number[] = [];
  /** Ascending by index; checkpoint i holds the state after `index` events. */
  readonly checkpoints: Checkpoint[] = [];
  readonly markers: Marker[] = [];
  /** Everyone the log names, by sub (latest name). */
  readonly actors = new Map<string, Actor>();
  readonly checkpointEvery: number;
  readonly initialLanguage: string | null;
  private readonly clientAuthors = new Map<number, string>();
  private readonly chat: Array<{ index: number; message: ChatMessage }> = [];
  private readonly signals: Array<{ index: number; signal: SignalMark }> = [];
  private readonly head: DocSet;
  private docsSinceCheckpoint = 0;

  constructor(options: TimelineOptions = {}) {
    this.checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.initialLanguage = options.initialLanguage ?? null;
    this.head = new DocSet(this.initialLanguage, undefined, { restores: true });
  }

  get length(): number {
    return this.events.length;
  }

  get lastSeq(): number {
    return this.events[this.events.length - 1]?.seq ?? 0;
  }

  /** Epoch ms of the first event (0 when empty). */
  get startTime(): number {
    return this.times[0] ?? 0;
  }

  /** Milliseconds from the first to the last loaded event. */
  get duration(): number {
    return this.times.length === 0 ? 0 : this.times[this.times.length - 1]! - this.times[0]!;
  }

  /**
   * Adds a page of events (seq order, as `GET /api/interviews/:id/events` serves them).
   * Events already loaded are skipped; a gap in seq throws, since the log has none.
   */
  append(events: readonly LoggedEvent[]): void {
    for (const event of events) {
      if (event.seq <= this.lastSeq) continue;
      if (this.events.length > 0 && event.seq !== this.lastSeq + 1) {
        throw new Error(`replay: missing events between seq ${this.lastSeq} and ${event.seq}`);
      }
      this.add(event);
    }
  }

  private add(event: LoggedEvent): void {
    const index = this.events.length;
    let update: Uint8Array | null = null;
    if (event.type === 'doc' && typeof event.data.update === 'string') {
      update = decodeBase64(event.data.update);
      // A client's first update introduces its Yjs client id: that id is this author's.
      for (const client of Y.parseUpdateMeta(update).to.keys()) {
        if (!this.clientAuthors.has(client)) this.clientAuthors.set(client, event.actor.sub);
      }
    }
    this.events.push(event);
    this.updates.push(update);
    // Seq order is commit order; times are stamped before the commit, on each
    // node's clock, so one can be a little earlier than the event before it.
    // Held to the one before, the timeline never runs backwards.
    this.times.push(Math.max(Date.parse(event.at), this.times[index - 1] ?? -Infinity));
    this.actors.set(event.actor.sub, event.actor);

    const changes = this.head.apply(event, update);
    this.mark(event, index, changes);
    this.markBurst(event, index, changes);

    if (event.type === 'doc') this.docsSinceCheckpoint++;
    if (this.docsSinceCheckpoint >= this.checkpointEvery) {
      this.docsSinceCheckpoint = 0;
      this.checkpoints.push(this.head.checkpoint());
    }
  }

  private mark(event: LoggedEvent, index: number, changes: FileChange[]): void {
    const name = event.actor.name;
    const push = (kind: Marker['kind'], label: string, data: Record<string, unknown>) =>
      this.markers.push({ kind, index, seq: event.seq, at: event.at, time: this.times[index]! - this.startTime, actor: event.actor, label, data });
    switch (event.type) {
      case 'doc':
        for (const c of changes) {
          const label =
            c.action === 'rename' ? `${name} renamed ${c.from} to ${c.path}` : `${name} ${c.action === 'add' ? 'added' : c.action === 'delete' ? 'deleted' : 'replaced'} ${c.path}`;
          push('file', label, { ...c });
        }
        break;
      case 'chat': {
        const message: ChatMessage = {
          id: String(event.seq),
          at: event.at,
          channel: event.data.channel === 'panel' ? 'panel' : 'room',
          from: event.actor,
          text: String(event.data.text ?? ''),
        };
        this.chat.push({ index, message });
        push('chat', `${name}${message.channel === 'panel' ? ' (panel)' : ''}: ${clip(message.text)}`, { channel: message.channel, text: message.text });
        break;
      }
      case 'join':
        push('join', `${name} joined`, {});
        break;
      case 'leave':
        // `lost`: logged by another node for a connection a dead node took with it.
        push('leave', event.data.lost === true ? lostLeaveLabel(name, event) : `${name} left`, {});
        break;
      case 'language':
        push('language', `language: ${String(event.data.language)}`, { language: event.data.language });
        break;
      case 'end':
        push('end', 'interview ended', {});
        break;
      case 'run':
        push('run', `${name} ran ${String(event.data.path ?? 'the code')}`, event.data);
        break;
      case 'run_settings': {
        const may = event.data.candidateMayRun !== false;
        push('settings', `${name}: the candidate ${may ? 'may' : 'may not'} run code`, { candidateMayRun: may });
        break;
      }
      case 'signal': {
        const signal: SignalMark = { seq: event.seq, at: event.at, from: event.actor, kind: String(event.data.kind) };
        if (typeof event.data.size === 'number') signal.size = event.data.size;
        if (typeof event.data.path === 'string') signal.path = event.data.path;
        this.signals.push({ index, signal });
        const what = SIGNAL_LABELS[signal.kind] ?? signal.kind;
        push('signal', `${name}: ${what}${signal.kind === 'paste' && signal.size !== undefined ? ` ${signal.size} characters` : ''}`, { ...signal });
        break;
      }
      default:
        break;
    }
  }

  /**
   * One logged edit that put a lot of text in at once: a paste, or edits made
   * offline and sent together on reconnecting. Read from the log itself, so
   * it does not depend on what the candidate's page reported. A rename's copy
   * and the interview's seed are not, nor text put back where it had been
   * deleted (an undo of a deletion, a redo): it came from the document.
   */
  private markBurst(event: LoggedEvent, index: number, changes: FileChange[]): void {
    if (event.type !== 'doc' || index === 0 || changes.some((c) => c.action === 'rename')) return;
    const { chars: inserted, path, restored } = this.head.lastInsertion;
    const chars = inserted - restored;
    if (chars < LARGE_INSERTION_CHARS) return;
    this.markers.push({
      kind: 'burst',
      index,
      seq: event.seq,
      at: event.at,
      time: this.times[index]! - this.startTime,
      actor: event.actor,
      label: `${event.actor.name}: ${chars} characters at once${path ? ` into ${path}` : ''}`,
      data: { size: chars, path },
    });
  }

  /** How many events had happened at `ms` milliseconds after the first event. */
  indexAtTime(ms: number): number {
    const t = this.startTime + ms;
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Milliseconds after the first event at which the state `index` begins (0 for index 0). */
  timeOfIndex(index: number): number {
    if (index <= 0 || this.times.length === 0) return 0;
    return this.times[Math.min(index, this.times.length) - 1]! - this.startTime;
  }

  /** The newest checkpoint at or before `index`, if any. */
  checkpointFor(index: number): Checkpoint | undefined {
    let lo = 0;
    let hi = this.checkpoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.checkpoints[mid]!.index <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.checkpoints[lo - 1];
  }

  chatUntil(index: number): ChatMessage[] {
    return upTo(this.chat, index).map((c) => c.message);
  }

  signalsUntil(index: number): SignalMark[] {
    return upTo(this.signals, index).map((s) => s.signal);
  }

  /** The author of a Yjs client id (the actor of the first event carrying it). */
  authorOf(client: number): Actor | undefined {
    const sub = this.clientAuthors.get(client);
    return sub === undefined ? undefined : this.actors.get(sub);
  }

  participants(online: ReadonlyMap<string, ReadonlySet<string>>): Participant[] {
    const out: Participant[] = [];
    for (const [sub, conns] of online) {
      const actor = this.actors.get(sub);
      if (actor) out.push({ ...actor, online: conns.size > 0 });
    }
    return out;
  }

  /** The state after every loaded event (what the page shows at the live end). */
  headFiles(): Record<string, string> {
    return this.head.files();
  }

  destroy(): void {
    this.head.destroy();
  }
}

/** Entries with index < n (entries are ascending by index). */
function upTo<T extends { index: number }>(list: readonly T[], n: number): T[] {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.index < n) lo = mid + 1;
    else hi = mid;
  }
  return list.slice(0, lo);
}
