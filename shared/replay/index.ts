/**
 * The replay engine: pure TypeScript over Yjs, no DOM and no Node-only API,
 * imported by the replay page and by the Node tests and benchmark alike.
 * See docs/replay.md.
 */
export { decodeBase64, encodeBase64 } from './base64.js';
export type { Checkpoint, FileChange } from './doc-set.js';
export { createIdleScale, type IdleScale } from './idle.js';
export { loadTimeline, ReplayLoadError, type LoadOptions } from './load.js';
export { ReplayPlayer } from './player.js';
export { DEFAULT_CHECKPOINT_EVERY, ReplayTimeline, type TimelineOptions } from './timeline.js';
export type { AttributedRun, AuthorCursor, Marker, MarkerKind, ReplayState, SignalMark } from './types.js';
