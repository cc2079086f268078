/**
 * What one person may do in an interview, on this node, beyond the socket's
 * event limit, which counts events: an update may be 1 MiB, so a client
 * pasting a large text and deleting it in a loop, each edit within the
 * document's size limit, could write tens of megabytes a second to the
 * database. Edits and chat draw on a budget of bytes; code runs, whose logged
 * code, input and output can reach megabytes each, on one of their own (so a
 * run's output never holds up its author's typing), after a budget of starts;
 * language changes, syncs and integrity signals on budgets of theirs. Kept
 * with the room rather than the socket, so a reconnection does not refill
 * them; typing uses a tiny part of its budget, and the bursts let several
 * large pastes, or runs, through at once.
 */
import { DuetError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { Config } from '../config.js';
import type { Room } from '../rooms/room.js';
import { TokenBucket } from './token-bucket.js';
import type { DuetSocket } from './socket-data.js';

type ByteConfig = Pick<Config, 'writeBytesPerSecond' | 'writeBytesBurst'>;

/** Each change is logged and turns every participant's editor, one commit at a time per interview, ahead of everyone's edits. */
const LANGUAGE_CHANGES = { perSecond: 1, burst: 10 };
/** A start reads the interview and the document before the runner refuses or queues it. */
const RUN_STARTS = { perSecond: 1, burst: 5 };
/**
 * A sync reads the log and encodes what the client lacks: with a made-up
 * state vector, the whole document, tens of milliseconds for a large one. A
 * page syncs on connecting and every 30 s, and again after a refusal.
 */
const SYNCS = { perSecond: 5, burst: 30 };
/**
 * Each Yjs client id a node has not seen yet is claimed or looked up in the
 * database (a row per claim, kept with the interview). A page claims one per
 * document when it loads; reconnecting keeps its ids.
 */
const EDITOR_IDS = { perSecond: 0.1, burst: 20 };

function budgetOf(room: Room, socket: DuetSocket, kind: string, perSecond: number, burst: number): TokenBucket {
  const key = `${kind}\n${socket.data.actor.sub}`;
  let budget = room.budgets.get(key);
  if (!budget) {
    budget = new TokenBucket(perSecond, burst);
    room.budgets.set(key, budget);
  }
  return budget;
}

function take(budget: TokenBucket, n: number, what: string): void {
  if (!budget.take(n)) throw new DuetError('rate_limited', `${what}; retry in ${budget.secondsUntil(n)} s`);
}

/** Bytes of an edit or a chat message. */
export function spendWriteBudget(config: ByteConfig, room: Room, socket: DuetSocket, bytes: number): void {
  take(budgetOf(room, socket, 'write', config.writeBytesPerSecond, config.writeBytesBurst), bytes, 'too much written to this interview');
}

export function takeLanguageChange(room: Room, socket: DuetSocket): void {
  take(budgetOf(room, socket, 'language', LANGUAGE_CHANGES.perSecond, LANGUAGE_CHANGES.burst), 1, 'too many language changes');
}

/** Checked before anything else a start does. */
export function takeRunStart(room: Room, socket: DuetSocket): void {
  take(budgetOf(room, socket, 'run-start', RUN_STARTS.perSecond, RUN_STARTS.burst), 1, 'too many runs started');
}

/** The bytes a run's event will log of its code and input, once the start is allowed. */
export function spendRunInput(config: ByteConfig, room: Room, socket: DuetSocket, bytes: number): void {
  take(budgetOf(room, socket, 'run', config.writeBytesPerSecond, config.writeBytesBurst), bytes, 'too much logged by runs');
}

/** Its output, when the run ends: taken whatever is left, so the next run waits until the budget has refilled. */
export function chargeRunOutput(config: ByteConfig, room: Room, socket: DuetSocket, bytes: number): void {
  budgetOf(room, socket, 'run', config.writeBytesPerSecond, config.writeBytesBurst).charge(bytes);
}

/** A `doc:sync` asked with the event (the handshake's are bounded by the handshake limits). */
export function takeSync(room: Room, socket: DuetSocket): void {
  take(budgetOf(room, socket, 'sync', SYNCS.perSecond, SYNCS.burst), 1, 'too many syncs');
}

/** An integrity signal: per person, so a candidate's reconnections do not refill it. */
export function takeSignal(room: Room, socket: DuetSocket): void {
  take(budgetOf(room, socket, 'signal', LIMITS.signalsPerSecond, LIMITS.signalBurst), 1, 'too many signals');
}

/** A Yjs client id this node does not know yet, claimed or looked up (editor-ids.ts). */
export function takeEditorId(room: Room, socket: DuetSocket): void {
  take(budgetOf(room, socket, 'editor-id', EDITOR_IDS.perSecond, EDITOR_IDS.burst), 1, 'too many new editor ids');
}
