/**
 * What a refused page says and offers (client/src/refusals.ts): the server's
 * own words as a sentence when nothing better is known, a retry only where
 * one can work, and the start page (where interviewers sign in) for no one
 * who came on a candidate's, observer's or reviewer's invite.
 */
import { describe, expect, it } from 'vitest';
import { explain, refusalActions } from '../client/src/refusals.js';

const labels = (code: string, role: string | undefined, mayReload = true) => refusalActions(code, role, mayReload ? () => {} : undefined).map((a) => a.label);

describe('refusal screens', () => {
  it('explain a refusal in the words of the person holding the link', () => {
    expect(explain('too_many_connections', 'you already have 3 connections to this interview on this node').title).toBe('Too many open pages');
    expect(explain('bad_request', 'the handshake is malformed').message).toBe('The handshake is malformed. Try again in a moment; if it keeps happening, tell your interviewer.');
    expect(explain('unavailable', 'The server cannot be reached.').message).toMatch(/^The server cannot be reached\. Try again/);
    expect(explain('internal', '').message).toBe('Try again in a moment; if it keeps happening, tell your interviewer.');
    expect(explain('forbidden', 'your role cannot join').message).toBe('Your role cannot join.');
    // Who is told to ask whom: a candidate their interviewer; others whoever sent the link; an interviewer signs in again.
    expect(explain('token_expired', '', 'candidate').message).toMatch(/Ask your interviewer for a new one\.$/);
    expect(explain('invite_revoked', '', 'reviewer').message).toBe('Ask whoever sent you the link for a new invite link.');
    expect(explain('token_expired', '', 'interviewer').message).toMatch(/^Sign in again on the start page/);
    expect(explain('internal', 'boom', 'interviewer').message).toMatch(/tell whoever runs this Duet server\.$/);
    expect(explain('internal', 'boom', 'candidate').message).toMatch(/tell your interviewer\.$/);
  });

  it('offer a retry only where it can work, and the start page only to those who may sign in there', () => {
    expect(labels('too_many_connections', 'candidate')).toEqual(['Try again']);
    expect(labels('internal', 'observer')).toEqual(['Try again']);
    expect(labels('internal', 'candidate', false)).toEqual([]); // the page's unsaved code would go with a reload
    for (const code of ['token_expired', 'invite_revoked', 'not_found', 'wrong_interview']) {
      for (const role of ['candidate', 'observer', 'reviewer']) expect(labels(code, role)).toEqual([]);
      expect(labels(code, 'interviewer')).toEqual(['Go to the start page']);
    }
    // A link without a readable token may be an interviewer's, copied without its token.
    expect(labels('no_token', undefined)).toEqual(['Go to the start page']);
    expect(labels('internal', 'admin')).toEqual(['Try again', 'Go to the start page']);
  });
});
