/** The REST API under /api, with the bearer token and the `{error: {code, message}}` shape. */
import type { Interview } from '../../shared/protocol.js';
import type { InviteRole } from '../../shared/roles.js';
import type { Language } from '../../shared/languages.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'unavailable', 'The server cannot be reached.');
  }
  const data = (await res.json().catch(() => undefined)) as unknown;
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? 'internal', err?.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export type CreatedInterview = Interview & { token: string };

/** An invite as the API lists it (never its token). */
export interface InviteInfo {
  id: string;
  role: InviteRole;
  name: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export const api = {
  /** A page of the caller's interviews, newest first, with `q` in their title; `next` is the `before` of the page after, null on the last. */
  listInterviews: (token: string, limit: number, { q, before }: { q?: string; before?: number } = {}) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (q) query.set('q', q);
    if (before !== undefined) query.set('before', String(before));
    return call<{ interviews: Interview[]; next: number | null }>(token, 'GET', `/interviews?${query}`);
  },
  getInterview: (token: string, id: string) => call<Interview>(token, 'GET', `/interviews/${encodeURIComponent(id)}`),
  createInterview: (token: string, title: string, language: Language, starterCode?: string) =>
    call<CreatedInterview>(token, 'POST', '/interviews', starterCode ? { title, language, starterCode } : { title, language }),
  invite: (token: string, id: string, role: InviteRole, name: string) =>
    call<{ token: string; url: string }>(token, 'POST', `/interviews/${encodeURIComponent(id)}/invites`, { role, name }),
  /** A token for yourself, scoped to the interview: you open its room or replay as you, not as a new invitee. */
  ownToken: (token: string, id: string, role: 'interviewer' | 'reviewer') =>
    call<{ token: string; url: string }>(token, 'POST', `/interviews/${encodeURIComponent(id)}/token`, { role }),
  listInvites: (token: string, id: string) => call<{ invites: InviteInfo[] }>(token, 'GET', `/interviews/${encodeURIComponent(id)}/invites`),
  revokeInvite: (token: string, id: string, inviteId: string) =>
    call<InviteInfo & { minted: InviteInfo[] }>(token, 'DELETE', `/interviews/${encodeURIComponent(id)}/invites/${encodeURIComponent(inviteId)}`),
  end: (token: string, id: string) => call<Interview>(token, 'POST', `/interviews/${encodeURIComponent(id)}/end`),
};
