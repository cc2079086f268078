/**
 * What one person may add to an interview's log. The event limit counts
 * events, and an update may be 1 MiB: a client pasting a large text and
 * deleting it in a loop, each edit within the document's size limit, could
 * write tens of megabytes a second to the database; so edits and chat draw on
 * a budget of bytes, and language changes on one of their own. Both are per
 * person and interview on this node, kept with the room rather than the
 * socket, so a reconnection does not refill them; typing uses a tiny part of
 * the bytes, and the burst lets several large pastes through at once.
 */
import { DuetError } from '../../shared/errors.js';
import type { Config } from '../config.js';
import type { Room } from '../rooms/room.js';
import { TokenBucket } from './token-bucket.js';
import type { DuetSocket } from './socket-data.js';

/**
 * Language changes a person may make: each is logged, and turns every
 * participant's editor to the new language, one commit at a time per
 * interview, ahead of everyone's edits.
 */
const LANGUAGE_CHANGES_PER_SECOND = 1;
const LANGUAGE_CHANGE_BURST = 10;

export function takeLanguageChange(room: Room, socket: DuetSocket): void {
  const { sub } = socket.data.actor;
  let budget = room.languageChanges.get(sub);
  if (!budget) {
    budget = new TokenBucket(LANGUAGE_CHANGES_PER_SECOND, LANGUAGE_CHANGE_BURST);
    room.languageChanges.set(sub, budget);
  }
  if (!budget.take()) throw new DuetError('rate_limited', `too many language changes; retry in ${budget.secondsUntil(1)} s`);
}

export function spendWriteBudget(config: Pick<Config, 'writeBytesPerSecond' | 'writeBytesBurst'>, room: Room, socket: DuetSocket, bytes: number): void {
  const { sub } = socket.data.actor;
  let budget = room.writeBudgets.get(sub);
  if (!budget) {
    budget = new TokenBucket(config.writeBytesPerSecond, config.writeBytesBurst);
    room.writeBudgets.set(sub, budget);
  }
  if (!budget.take(bytes)) {
    throw new DuetError('rate_limited', `too much written to this interview; retry in ${budget.secondsUntil(bytes)} s`);
  }
}
