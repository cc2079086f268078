/**
 * Which of two copies of one interview is the newer. A node reads the
 * interview for a joiner's `session` while changes to it are being committed
 * and broadcast, from any node, so copies arrive out of order: a joiner can
 * get a change's broadcast before a `session` read earlier, or the other way
 * round. Every copy carries the event-log seq it was read at.
 */
import type { Interview } from './protocol.js';

/** A copy as it may come off the wire: without `seq` from a node before it. */
type Copy = Pick<Interview, 'status'> & { seq?: number | undefined };

/** Is `next` at least as new as `current`? A copy without a seq is taken as it comes. */
export function isNotOlder(current: Copy, next: Copy): boolean {
  // An interview never reopens, whatever a copy says (a client may mark its
  // copy ended itself on an `interview_ended` refusal, before the end's own copy comes).
  if (current.status === 'ended' && next.status === 'open') return false;
  return seqNotOlder(current.seq, next.seq);
}

/** Is a copy at seq `next` at least as new as one at `current`? A copy without a seq (from a node before it) is taken as it comes. */
export function seqNotOlder(current: number | undefined, next: number | undefined): boolean {
  return next === undefined || current === undefined || next >= current;
}

/** The newer of the two (`next` when they are equally new: the same state). */
export function newerInterview(current: Interview, next: Interview | undefined): Interview {
  return next && isNotOlder(current, next) ? next : current;
}
