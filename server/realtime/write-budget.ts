/**
 * How many bytes one person may add to an interview's log. The event limit
 * counts events, and an update may be 1 MiB: a client pasting a large text and
 * deleting it in a loop, each edit within the document's size limit, could
 * write tens of megabytes a second to the database. The budget is per person
 * and interview on this node, kept with the room rather than the socket, so a
 * reconnection does not refill it; typing uses a tiny part of it, and the
 * burst lets several large pastes through at once.
 */
import { DuetError } from '../../shared/errors.js';
import type { Config } from '../config.js';
import type { Room } from '../rooms/room.js';
import { TokenBucket } from './token-bucket.js';
import type { DuetSocket } from './socket-data.js';

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
