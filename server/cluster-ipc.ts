/**
 * What the cluster's own IPC messages share (server/cluster.ts and the modules
 * beside it): telling Duet's messages from sticky's and the cluster adapter's,
 * and sending without crashing when the other end has just died.
 */

/** A message of ours: its type, and whatever else it carries, unchecked. */
export type ClusterMessage = { type: string } & Record<string, unknown>;

/** Is this IPC message one of ours of `type`? (Sticky's and the cluster adapter's have types of their own.) */
export function isMessage(value: unknown, type: string): value is ClusterMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}

/** A send's failure (the other end just died): whatever waited on it ends by that end's exit or a timeout. */
export const ignoreSendError = (): void => {};

/** From a worker: the channel closes when the primary goes, and a send then would be an uncaught error. */
export function sendToPrimary(message: { type: string; [key: string]: unknown }): void {
  if (process.connected) process.send?.(message, undefined, undefined, ignoreSendError);
}
