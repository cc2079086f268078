/** What a refused page says, and what it offers to do next (no DOM here: tested in Node). */
export interface ScreenAction {
  label: string;
  href?: string;
  onClick?: () => void;
}

/** Those who sign in on the start page with a token of their own, rather than come on an invite. */
const SIGNS_IN = new Set(['interviewer', 'admin']);
/** Those who only ever come on an invite: the start page is of no use to them. */
const INVITED_ONLY = new Set(['candidate', 'observer', 'reviewer']);

/** What each refusal means to the person holding the link (`role`, when the link says). */
export function explain(code: string, fallback: string, role?: string): { title: string; message: string } {
  // A candidate has an interviewer to ask; an observer or reviewer, whoever sent the link.
  const ask = role === 'candidate' || role === undefined ? 'your interviewer' : 'whoever sent you the link';
  switch (code) {
    case 'token_expired':
      return {
        title: 'This link has expired',
        message: SIGNS_IN.has(role ?? '')
          ? 'Sign in again on the start page with a new token, or ask for a new link.'
          : `Invite links are valid for a limited time. Ask ${ask} for a new one.`,
      };
    case 'invite_revoked':
      return { title: 'This link was revoked', message: `Ask ${ask} for a new invite link.` };
    case 'invalid_token':
    case 'unauthorized':
    case 'no_token':
      return {
        title: 'This link is not valid',
        message: 'The invite in this link is missing or damaged. Open the link exactly as you received it, or ask for a new one.',
      };
    case 'not_found':
      return { title: 'Interview not found', message: 'There is no such interview on this server. It may have been deleted, or the link points at another server.' };
    case 'forbidden':
      return { title: 'You cannot join this room', message: asSentence(fallback) || 'This link does not let you into the live room.' };
    case 'wrong_interview':
      return { title: 'This link is for another interview', message: 'The invite does not belong to this room. Open the link exactly as you received it.' };
    case 'too_many_connections':
      // Two limits answer with this code: this person's open pages, and the whole room's.
      return {
        title: 'Too many open pages',
        message: `Either this link is open in too many tabs or windows (close the ones you do not need, then try again), or the room already has as many connections as the server allows: then tell ${ask}.`,
      };
    default: {
      const said = asSentence(fallback);
      const tell = SIGNS_IN.has(role ?? '') ? 'whoever runs this Duet server' : ask;
      return { title: 'Something went wrong', message: `${said ? `${said} ` : ''}Try again in a moment; if it keeps happening, tell ${tell}.` };
    }
  }
}

/** The server's own words (lower case, no full stop) as a sentence. */
function asSentence(text: string): string {
  const t = text.trim().replace(/\.$/, '');
  return t ? `${t.charAt(0).toUpperCase()}${t.slice(1)}.` : '';
}

/** Refusals that mean the link itself will not work: trying again does not help. */
const LINK_REFUSALS = new Set(['token_expired', 'invite_revoked', 'invalid_token', 'unauthorized', 'no_token', 'not_found', 'forbidden', 'wrong_interview']);

/**
 * What someone refused can do next. Trying again (`reload`), when the refusal may pass;
 * the start page (where a token signs in) for everyone but those who came on
 * an invite for a candidate, observer or reviewer, who can only ask for a new link.
 */
export function refusalActions(code: string, role: string | undefined, reload?: () => void): ScreenAction[] {
  const actions: ScreenAction[] = [];
  if (reload && !LINK_REFUSALS.has(code)) actions.push({ label: 'Try again', onClick: reload });
  if (!INVITED_ONLY.has(role ?? '')) actions.push({ label: 'Go to the start page', href: '/' });
  return actions;
}
