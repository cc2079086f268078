/**
 * Loads an interview's log page by page into a timeline, for the replay page
 * (fetch is global in browsers and Node 20). `onPage` runs after each page, so
 * the page can render as soon as the first one arrives.
 */
import type { LoggedEvent } from '../protocol.js';
import type { ReplayTimeline } from './timeline.js';

export interface LoadOptions {
  /** Where the API lives, e.g. `location.origin`; no trailing slash. */
  baseUrl: string;
  interviewId: string;
  token: string;
  /** Events per request (the server allows up to 1,000). */
  pageSize?: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  onPage?: (timeline: ReplayTimeline) => void;
}

export class ReplayLoadError extends Error {
  override name = 'ReplayLoadError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Appends every event after `timeline.lastSeq` (so calling it again fetches only what is new). */
export async function loadTimeline(timeline: ReplayTimeline, options: LoadOptions): Promise<ReplayTimeline> {
  const doFetch = options.fetch ?? fetch;
  const limit = options.pageSize ?? 1000;
  let after: number | null = timeline.lastSeq;
  while (after !== null) {
    const url = `${options.baseUrl}/api/interviews/${encodeURIComponent(options.interviewId)}/events?after=${after}&limit=${limit}`;
    const res = await doFetch(url, {
      headers: { authorization: `Bearer ${options.token}` },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const body = (await res.json()) as { events: LoggedEvent[]; next: number | null } | { error: { code: string; message: string } };
    if (!res.ok || 'error' in body) {
      const error = 'error' in body ? body.error : { code: 'internal', message: `HTTP ${res.status}` };
      throw new ReplayLoadError(res.status, error.code, error.message);
    }
    timeline.append(body.events);
    options.onPage?.(timeline);
    after = body.next;
  }
  return timeline;
}
