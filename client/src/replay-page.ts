/**
 * /replay/<id>#token=... : the reviewer's page. The full replay (timeline,
 * keystroke playback) is its own piece of work; until it lands, this shows
 * the final code of every file, read-only, so a replay link is never a dead end.
 */
import type { Interview } from '../../shared/protocol.js';
import { api, ApiError } from './api-client.js';
import { h } from './dom.js';
import { explain, showScreen } from './screens.js';
import { takeToken } from './token-store.js';

export async function startReplay(root: HTMLElement, interviewId: string): Promise<void> {
  const token = takeToken(`replay:${interviewId}`);
  if (!token) {
    const { title, message } = explain('no_token', '');
    return showScreen(root, title, message, [{ label: 'Go to the start page', href: '/' }]);
  }
  showScreen(root, 'Loading the interview…', '', [], 'info');
  try {
    const interview = await api.getInterview(token, interviewId);
    const res = await fetch(`/api/interviews/${encodeURIComponent(interviewId)}/document`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new ApiError(res.status, 'internal', `HTTP ${res.status}`);
    const { files } = (await res.json()) as { files: Record<string, string> };
    render(root, interview, files);
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(0, 'internal', 'The server cannot be reached.');
    const { title, message } = explain(e.code, e.message);
    showScreen(root, title, message, [{ label: 'Go to the start page', href: '/' }]);
  }
}

function render(root: HTMLElement, interview: Interview, files: Record<string, string>): void {
  document.title = `${interview.title} (replay) · Duet`;
  root.replaceChildren(
    h(
      'main',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('a', { class: 'brand', href: '/' }, 'Duet'), h('h1', {}, interview.title), h('span', { class: `status-pill ${interview.status}` }, interview.status)),
      h('p', { class: 'hint' }, 'The final code of every file. Keystroke playback with chat on the timeline is on its way.'),
      ...Object.entries(files).map(([path, text]) => h('section', { class: 'card' }, h('h2', { class: 'section-title' }, path), h('pre', { class: 'code' }, text))),
    ),
  );
}
