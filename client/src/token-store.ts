/**
 * Tokens arrive in the URL fragment (`#token=...`) so they never reach a
 * server log, are then removed from the address bar (and so from history and
 * screen shares), and are kept in sessionStorage so a reload still works.
 */
const PREFIX = 'duet.token:';

/** Takes the token for this page: from the fragment if present, else from the session. */
export function takeToken(scope: string): string | undefined {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem(PREFIX + scope, fromHash);
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(PREFIX + scope) ?? undefined;
}

export function saveToken(scope: string, token: string): void {
  sessionStorage.setItem(PREFIX + scope, token);
}

export function forgetToken(scope: string): void {
  sessionStorage.removeItem(PREFIX + scope);
}

export interface TokenClaims {
  sub: string;
  name: string;
  role: string;
  iid?: string;
  exp?: number;
}

/**
 * Reads a JWT's claims without verifying it: only to greet the user and to
 * spot an expired token before a round trip. The server checks everything.
 */
export function peekClaims(token: string): TokenClaims | undefined {
  try {
    const part = token.split('.')[1];
    if (!part) return undefined;
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as TokenClaims;
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}

export function isExpired(claims: TokenClaims | undefined): boolean {
  return claims?.exp !== undefined && claims.exp * 1000 <= Date.now();
}
