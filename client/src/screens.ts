/** Full-page states: loading, and the error screens a link can lead to. */
import { h } from './dom.js';

export interface ScreenAction {
  label: string;
  href?: string;
  onClick?: () => void;
}

export function showScreen(
  root: HTMLElement,
  title: string,
  message: string,
  actions: ScreenAction[] = [],
  kind: 'error' | 'info' = 'error',
  extra: HTMLElement | null = null,
): void {
  const buttons = actions.map((a) =>
    a.href
      ? h('a', { class: 'button', href: a.href }, a.label)
      : h('button', { type: 'button', class: 'button primary', onclick: () => a.onClick?.() }, a.label),
  );
  const heading = h('h1', { tabindex: '-1' }, title);
  root.replaceChildren(
    h(
      'main',
      { class: `screen screen-${kind}`, 'data-testid': `screen-${kind}` },
      h('div', { class: 'screen-card' }, h('div', { class: 'brand big' }, 'Duet'), heading, h('p', {}, message), extra, buttons.length ? h('div', { class: 'actions' }, ...buttons) : null),
    ),
  );
  document.title = `${title} · Duet`;
  heading.focus();
}

/** What each refusal means to the person holding the link. */
export function explain(code: string, fallback: string): { title: string; message: string } {
  switch (code) {
    case 'token_expired':
      return { title: 'This link has expired', message: 'Invite links are valid for a limited time. Ask your interviewer for a new one.' };
    case 'invite_revoked':
      return { title: 'This link was revoked', message: 'Ask your interviewer for a new invite link.' };
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
      return {
        title: 'Too many open pages',
        message: 'This interview is already open in as many tabs or windows as the server allows, on this link or in all. Close the ones you do not need, then try again.',
      };
    default: {
      const said = asSentence(fallback);
      return { title: 'Something went wrong', message: `${said ? `${said} ` : ''}Try again in a moment; if it keeps happening, tell your interviewer.` };
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
 * What someone refused can do next. Trying again, when the refusal may pass;
 * the start page (where a token signs in) for everyone but those who came on
 * an invite for a candidate, observer or reviewer, who can only ask for a new link.
 */
export function refusalActions(code: string, role: string | undefined, mayReload = true): ScreenAction[] {
  const actions: ScreenAction[] = [];
  if (mayReload && !LINK_REFUSALS.has(code)) actions.push({ label: 'Try again', onClick: () => location.reload() });
  if (role !== 'candidate' && role !== 'observer' && role !== 'reviewer') actions.push({ label: 'Go to the start page', href: '/' });
  return actions;
}

/** A short message that goes away by itself. */
export function toast(text: string): void {
  let host = document.querySelector<HTMLElement>('.toasts');
  if (!host) {
    host = h('div', { class: 'toasts', role: 'alert', 'aria-live': 'assertive' });
    document.body.append(host);
  }
  const item = h('div', { class: 'toast' }, text);
  host.append(item);
  setTimeout(() => item.remove(), 6000);
}
