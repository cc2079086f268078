/**
 * The start page for interviewers: sign in with a token (pasted, or passed
 * as /#token=...), create an interview, hand out the candidate and observer
 * links, and find earlier interviews.
 */
import { DEFAULT_LANGUAGE, LANGUAGE_IDS, LANGUAGES, type Language } from '../../shared/languages.js';
import { LIMITS } from '../../shared/limits.js';
import type { Interview } from '../../shared/protocol.js';
import { api, ApiError, type CreatedInterview } from './api-client.js';
import { clear, copyText, h } from './dom.js';
import { forgetToken, isExpired, peekClaims, saveToken, takeToken } from './token-store.js';

const SCOPE = 'landing';

export function startLanding(root: HTMLElement): void {
  const token = takeToken(SCOPE);
  const claims = token ? peekClaims(token) : undefined;
  if (!token || !claims || isExpired(claims)) {
    renderSignIn(root, token && isExpired(claims) ? 'That token has expired. Mint a new one.' : '');
    return;
  }
  // An invite for one room pasted here: just go there.
  if (claims.iid && claims.role !== 'reviewer') {
    forgetToken(SCOPE);
    location.assign(`/room/${encodeURIComponent(claims.iid)}#token=${token}`);
    return;
  }
  renderHome(root, token, claims.name);
}

function renderSignIn(root: HTMLElement, problem: string): void {
  const input = h('textarea', { class: 'input token-input', rows: 3, 'aria-label': 'Token', placeholder: 'eyJhbGciOi…', spellcheck: 'false', 'data-testid': 'token-input' });
  const error = h('p', { class: 'form-error', role: 'alert' }, problem);
  const form = h(
    'form',
    { class: 'card narrow' },
    h('h1', {}, 'Sign in to Duet'),
    h('p', {}, 'Paste an interviewer token from your organisation, or mint one on the server:'),
    h('pre', { class: 'code' }, 'npm run -s token -- --role interviewer --name "Your Name"'),
    input,
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Continue')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    const claims = peekClaims(token);
    if (!claims) {
      error.textContent = 'That does not look like a token.';
      return;
    }
    if (isExpired(claims)) {
      error.textContent = 'That token has expired.';
      return;
    }
    saveToken(SCOPE, token);
    startLanding(root);
  });
  root.replaceChildren(page(h('div', { class: 'brand big' }, 'Duet'), form));
  document.title = 'Duet';
  input.focus();
}

function renderHome(root: HTMLElement, token: string, name: string): void {
  const signOut = h('button', { type: 'button', class: 'button ghost' }, 'Sign out');
  signOut.addEventListener('click', () => {
    forgetToken(SCOPE);
    startLanding(root);
  });
  const created = h('div', { class: 'created', 'aria-live': 'polite' });
  const list = h('div', { class: 'interview-list', 'data-testid': 'interview-list' }, h('p', { class: 'hint' }, 'Loading…'));
  const search = h('input', {
    class: 'input list-search',
    type: 'search',
    maxlength: LIMITS.titleChars,
    placeholder: 'Search titles',
    'aria-label': 'Search interviews by title',
    'data-testid': 'list-search',
  });
  const lists = createListLoader(list, token);
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    // Each key is not a request: the list follows once typing pauses.
    clearTimeout(typing);
    typing = setTimeout(() => void lists.load(search.value.trim()), 250);
  });

  const title = h('input', { class: 'input', name: 'title', required: true, maxlength: 200, placeholder: 'Backend engineer: Ada L.', 'aria-label': 'Title', 'data-testid': 'title' });
  const language = h('select', { class: 'select', name: 'language', 'aria-label': 'Language' });
  for (const id of LANGUAGE_IDS) language.append(h('option', { value: id, selected: id === DEFAULT_LANGUAGE }, LANGUAGES[id].label));
  const candidate = h('input', { class: 'input', name: 'candidate', maxlength: 100, value: 'Candidate', 'aria-label': 'Candidate name' });
  const starterCode = h('textarea', {
    class: 'input',
    name: 'starterCode',
    rows: 4,
    maxlength: LIMITS.starterCodeChars,
    spellcheck: 'false',
    placeholder: 'Optional: the code the candidate starts from',
    'aria-label': 'Starter code',
  });
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Create interview');
  const form = h(
    'form',
    { class: 'card' },
    h('h2', {}, 'New interview'),
    h('div', { class: 'form-grid' }, h('label', {}, 'Title', title), h('label', {}, 'Language', language), h('label', {}, 'Candidate name', candidate)),
    h('label', { class: 'form-wide' }, 'Starter code', starterCode),
    formError,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    formError.textContent = '';
    try {
      // A box left with only blank lines in it starts the file empty; code is sent as typed.
      const code = starterCode.value.trim() ? starterCode.value : undefined;
      const iv = await api.createInterview(token, title.value.trim(), language.value as Language, code);
      // The creator's own room token: the room then knows them as the same person every time.
      sessionStorage.setItem(`duet.token:room:${iv.id}`, iv.token);
      const invite = await api.invite(iv.token, iv.id, 'candidate', candidate.value.trim() || 'Candidate');
      renderCreated(created, iv, invite.url);
      title.value = '';
      starterCode.value = '';
      void lists.load(search.value.trim());
    } catch (err) {
      formError.textContent = err instanceof ApiError ? err.message : 'Could not create the interview.';
    } finally {
      submit.disabled = false;
    }
  });

  root.replaceChildren(
    page(
      h('header', { class: 'page-head' }, h('div', { class: 'brand big' }, 'Duet'), h('div', { class: 'spacer' }), h('span', { class: 'muted' }, `Signed in as ${name}`), signOut),
      form,
      created,
      h('section', { class: 'card' }, h('div', { class: 'list-head' }, h('h2', {}, 'Your interviews'), search), list),
    ),
  );
  document.title = 'Duet';
  void lists.load('');
}

function renderCreated(host: HTMLElement, iv: CreatedInterview, candidateUrl: string): void {
  const roomUrl = `${location.origin}/room/${encodeURIComponent(iv.id)}#token=${iv.token}`;
  const observer = h('div', {}, h('button', { type: 'button', class: 'button' }, 'Create an observer link'));
  observer.firstElementChild!.addEventListener('click', async () => {
    try {
      const { url } = await api.invite(iv.token, iv.id, 'observer', 'Observer');
      observer.replaceChildren(linkRow('Observer link', url));
    } catch (err) {
      observer.append(h('p', { class: 'form-error' }, err instanceof ApiError ? err.message : 'Could not create the link.'));
    }
  });
  clear(host);
  host.append(
    h(
      'section',
      { class: 'card highlight', 'data-testid': 'created' },
      h('h2', {}, `“${iv.title}” is ready`),
      linkRow('Candidate link (send this to the candidate)', candidateUrl),
      observer,
      h('div', { class: 'actions' }, h('a', { class: 'button primary', href: roomUrl, 'data-testid': 'open-room' }, 'Open the room')),
    ),
  );
}

function linkRow(label: string, url: string): HTMLElement {
  const output = h('input', { class: 'input link-output', readonly: true, value: url, 'aria-label': label });
  const copy = h('button', { type: 'button', class: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    copy.textContent = (await copyText(url)) ? 'Copied' : 'Copy failed';
    setTimeout(() => (copy.textContent = 'Copy'), 2000);
  });
  output.addEventListener('focus', () => output.select());
  return h('label', { class: 'link-row' }, h('span', {}, label), h('span', { class: 'invite-controls' }, output, copy));
}

/** Interviews shown at first, and added by each "Show older interviews". */
const LIST_PAGE = 50;

/**
 * The list of your interviews, newest first, LIST_PAGE at a time, those whose title has `q` in it.
 * Only the last search asked for is shown: an answer to an earlier one that comes later is dropped.
 */
function createListLoader(list: HTMLElement, token: string): { load(q: string): Promise<void> } {
  let latest = 0;
  return {
    async load(q) {
      const asked = ++latest;
      const current = () => asked === latest;
      let page: { interviews: Interview[]; next: number | null };
      try {
        page = await api.listInterviews(token, LIST_PAGE, { q });
      } catch (err) {
        if (current()) list.replaceChildren(h('p', { class: 'form-error' }, err instanceof ApiError ? err.message : 'Could not load your interviews.'));
        return;
      }
      if (!current()) return;
      if (page.interviews.length === 0) {
        list.replaceChildren(h('p', { class: 'hint' }, q ? `No interview has “${q}” in its title.` : 'No interviews yet. Create one above.'));
        return;
      }
      const body = h('tbody', {}, ...page.interviews.map((iv) => interviewRow(token, iv)));
      // Pages follow the server's cursor: one made meanwhile is not between two pages, and none is shown twice.
      const more = h('div', { class: 'list-more' });
      const showMore = (next: number | null) => {
        if (next === null) {
          more.replaceChildren();
          return;
        }
        const button = h('button', { type: 'button', class: 'button', 'data-testid': 'list-more' }, 'Show older interviews');
        button.addEventListener('click', async () => {
          button.disabled = true;
          try {
            const older = await api.listInterviews(token, LIST_PAGE, { q, before: next });
            if (!current()) return;
            body.append(...older.interviews.map((iv) => interviewRow(token, iv)));
            showMore(older.next);
          } catch (err) {
            button.disabled = false;
            more.replaceChildren(button, h('p', { class: 'form-error' }, err instanceof ApiError ? err.message : 'Could not load older interviews.'));
          }
        });
        more.replaceChildren(button);
      };
      showMore(page.next);
      list.replaceChildren(
        h(
          'table',
          { class: 'table' },
          h('thead', {}, h('tr', {}, ...['Title', 'Language', 'Status', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
          body,
        ),
        more,
      );
    },
  };
}

function interviewRow(token: string, iv: Interview): HTMLElement {
  const open = h('button', { type: 'button', class: 'button' }, iv.status === 'ended' ? 'View' : 'Open room');
  open.addEventListener('click', () => void go(token, iv, 'interviewer'));
  const replay = h('button', { type: 'button', class: 'button ghost' }, 'Replay');
  replay.addEventListener('click', () => void go(token, iv, 'reviewer'));
  return h(
    'tr',
    {},
    h('td', {}, iv.title),
    h('td', {}, LANGUAGES[iv.language]?.label ?? iv.language),
    h('td', {}, h('span', { class: `status-pill ${iv.status}` }, iv.status)),
    h('td', {}, h('time', { datetime: iv.createdAt }, new Date(iv.createdAt).toLocaleString())),
    h('td', { class: 'row-actions' }, open, replay),
  );
}

/** Opens a room (or the replay) as yourself, with a token scoped to it; reuses the room token from creating it. */
async function go(token: string, iv: Interview, role: 'interviewer' | 'reviewer'): Promise<void> {
  const known = role === 'interviewer' ? sessionStorage.getItem(`duet.token:room:${iv.id}`) : null;
  const claims = known ? peekClaims(known) : undefined;
  if (known && claims && !isExpired(claims)) {
    location.assign(`/room/${encodeURIComponent(iv.id)}`);
    return;
  }
  try {
    const { url } = await api.ownToken(token, iv.id, role);
    location.assign(url);
  } catch (err) {
    alert(err instanceof ApiError ? err.message : 'Could not open the interview.');
  }
}

function page(...children: Array<Node | null>): HTMLElement {
  return h('main', { class: 'page' }, ...children);
}
