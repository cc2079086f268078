/** Full-page states: loading, and the error screens a link can lead to. */
import { h } from './dom.js';
import type { ScreenAction } from './refusals.js';

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
