/**
 * The newest of the copies of one thing a page receives (the interview, the
 * run settings). A node reads a joiner's copy while changes are committed and
 * broadcast from any node, so an older copy can arrive after a newer one; the
 * older one is not news. After a lost connection whatever comes first is
 * taken: the next connection may be to a database restored to an earlier
 * point, whose copies all look older.
 */
import type { DuetClientSocket } from '../../shared/provider.js';

export interface NewestCopy<T> {
  readonly value: T;
  /** Takes `next` unless it is older than the value; says whether it did. */
  take(next: T): boolean;
}

export function newestCopy<T>(socket: DuetClientSocket, initial: T, isNotOlder: (current: T, next: T) => boolean): NewestCopy<T> {
  let value = initial;
  let takeAny = true;
  socket.on('disconnect', () => {
    takeAny = true;
  });
  return {
    get value() {
      return value;
    },
    take(next) {
      if (!takeAny && !isNotOlder(value, next)) return false;
      takeAny = false;
      value = next;
      return true;
    },
  };
}
