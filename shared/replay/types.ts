/** What the replay engine gives the replay page. Offsets are UTF-16 code units, as in Monaco and Y.Text. */
import type { Actor, ChatMessage, Participant } from '../protocol.js';
import type { DocName } from '../roles.js';

/** A text written by one author: [from, to) in the file's current text. */
export interface AttributedRun {
  from: number;
  to: number;
  /** The author's `sub`; null when no logged event introduced that Yjs client (should not happen). */
  author: string | null;
}

/** Where an author last edited, resolved in the current state (follows later edits by others). */
export interface AuthorCursor {
  author: Actor;
  doc: DocName;
  /** The file in `main`; null for `notes`. */
  path: string | null;
  index: number;
  /** The event of that edit. */
  seq: number;
  at: string;
}

/** An integrity signal as it stands on the timeline. */
export interface SignalMark {
  seq: number;
  at: string;
  from: Actor;
  kind: string;
  size?: number;
  path?: string;
}

export type MarkerKind = 'chat' | 'join' | 'leave' | 'language' | 'file' | 'run' | 'settings' | 'signal' | 'burst' | 'end';

/** Something to draw on the timeline. `index` is the event's position in the loaded log. */
export interface Marker {
  kind: MarkerKind;
  index: number;
  seq: number;
  at: string;
  /** Milliseconds since the first event. */
  time: number;
  actor: Actor;
  /** A short human label ("Ada joined", "paste of 812 chars", "renamed a.ts to b.ts"). */
  label: string;
  /** kind-specific: chat {channel, text}; file {action, path, from?}; signal {kind, size?, path?}; burst {size, path}; settings {candidateMayRun}; language {language}; run (the run event's data). */
  data: Record<string, unknown>;
}

/** The whole interview as it was right after event `index - 1` (index 0: before the first event). */
export interface ReplayState {
  /** Events applied: 0 .. timeline.length. */
  index: number;
  /** Seq of the last applied event; 0 before any. */
  seq: number;
  /** Time of the last applied event (ISO), null before any. */
  at: string | null;
  /** `main`: path -> text, paths sorted. */
  files: Record<string, string>;
  notes: string;
  /** Room and panel chat so far, oldest first. */
  chat: ChatMessage[];
  signals: SignalMark[];
  /** Everyone who joined so far; `online` from the join/leave events. */
  participants: Participant[];
  language: string | null;
  ended: boolean;
}
