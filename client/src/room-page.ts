/**
 * The interview room at /room/<id>#token=...: connects, then lays out the
 * editor, chat, participants, and for interviewers and observers the notes
 * and invite tools. Everything shown follows the node's `session`,
 * `interview` and `participants` events; the role only hides what the node
 * would refuse anyway.
 */
import type * as Y from 'yjs';
import { isErrorBody } from '../../shared/errors.js';
import { isNotOlder } from '../../shared/interview-copies.js';
import { LANGUAGE_IDS, LANGUAGES, type Language } from '../../shared/languages.js';
import type { Interview, Participant, SessionInfo } from '../../shared/protocol.js';
import { can, type Role } from '../../shared/roles.js';
import { api, ApiError } from './api-client.js';
import { createChatView } from './chat-view.js';
import { assignColors, colorOf, initials } from './colors.js';
import { connectRoom, type Refusal, type RoomConnection } from './connection.js';
import { copyText, h, tablistKeys } from './dom.js';
import { keepEarlyEvents, type EarlyEvents } from './early-events.js';
import { LanguageHistory, renameOnceThere } from './language-rename.js';
import { createEditorView } from './editor-view.js';
import { createInvitePanel, openReplayButton } from './invite-panel.js';
import { monaco } from './monaco-setup.js';
import { clockStart, clockText } from './interview-clock.js';
import { newestCopy } from './newest-copy.js';
import { createNotesView } from './notes-view.js';
import { createRunPanel } from './run-panel.js';
import { createParticipantsView } from './participants-view.js';
import { guardPasteSize } from './paste-guard.js';
import { explain, refusalActions } from './refusals.js';
import { showScreen, toast } from './screens.js';
import { describeSignal, reportSignals } from './signals.js';
import { createStatusView } from './status-view.js';
import { isExpired, peekClaims, takeToken } from './token-store.js';

export function startRoom(root: HTMLElement, interviewId: string): void {
  const token = takeToken(`room:${interviewId}`);
  const claims = token ? peekClaims(token) : undefined;
  const fail = (code: string, message = '', unsaved: HTMLElement | null = null) => {
    const { title, message: text } = explain(code, message, claims?.role);
    // A reload would lose the unsaved code shown for copying.
    showScreen(root, title, text, refusalActions(code, claims?.role, unsaved ? undefined : () => location.reload()), 'error', unsaved);
  };
  if (!token || !claims) return fail('no_token');
  if (isExpired(claims)) return fail('token_expired');
  if (claims.iid !== undefined && claims.iid !== interviewId) return fail('wrong_interview');
  // A reviewer's link opened as a room: reviewers replay, they do not join live.
  if (claims.role === 'reviewer') {
    location.replace(`/replay/${encodeURIComponent(interviewId)}#token=${token}`);
    return;
  }

  showScreen(root, 'Joining the interview…', 'Connecting to the server.', [], 'info');
  let conn: RoomConnection | undefined;
  let room: ReturnType<typeof buildRoom> | undefined;
  conn = connectRoom(token, interviewId, claims.role as Role, (refusal: Refusal) => {
    // Edits the node never confirmed go with the page: show the code as this page has it first.
    const unsaved = conn?.provider.unsaved ? unsavedCode(conn.provider.doc('main')) : null;
    room?.destroy();
    room = undefined;
    conn?.close();
    fail(refusal.code, refusal.message, unsaved);
  });
  const c = conn;
  const early = keepEarlyEvents(c.socket);
  c.socket.on('connect_error', (err: Error & { data?: unknown }) => {
    if (!room && !err.data) showScreen(root, 'Joining the interview…', 'The server cannot be reached yet. Retrying…', [], 'info');
  });
  c.provider.on('session', (session: SessionInfo) => {
    if (room) {
      room.onSession(session);
      early.replay();
      return;
    }
    // A candidate who arrives after the end gets a clear answer first, and the code if they want it.
    if (session.interview.status === 'ended' && session.you.role === 'candidate') {
      showScreen(root, 'This interview has ended', 'Thank you for your time. The session is closed; you can still look at the final code.', [
        {
          label: 'View the final code',
          onClick: () => {
            room = buildRoom(root, c, token, session, early);
          },
        },
      ]);
      return;
    }
    room = buildRoom(root, c, token, session, early);
  });
}

function buildRoom(root: HTMLElement, conn: RoomConnection, token: string, first: SessionInfo, early: EarlyEvents) {
  const { provider, socket } = conn;
  const you = first.you;
  const role = you.role;
  const panel = can.readDoc(role, 'notes');
  /** The interview as shown: the newest copy this page has (`shared/interview-copies.ts`). */
  const interview = newestCopy(socket, first.interview, isNotOlder);

  assignColors(first.participants);
  const main = provider.doc('main');
  const awareness = provider.awareness('main');
  awareness.setLocalStateField('user', { sub: you.sub, name: you.name, role, color: colorOf(you.sub) });

  // Header
  const languageSelect = h('select', { class: 'select', 'aria-label': 'Language', 'data-testid': 'language' });
  for (const id of LANGUAGE_IDS) languageSelect.append(h('option', { value: id }, LANGUAGES[id].label));
  const observing = role === 'observer' ? h('span', { class: 'badge-observing', 'data-testid': 'observing', title: 'You can watch and write panel notes; you cannot edit the code.' }, 'Observing') : null;
  const endButton =
    role === 'interviewer' ? h('button', { type: 'button', class: 'button danger', 'data-testid': 'end-interview' }, 'End interview') : null;
  const title = h('h1', { class: 'room-title' });
  const clock = h('span', { class: 'interview-clock', role: 'timer', 'data-testid': 'interview-clock', hidden: true });
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/', title: 'Duet home' }, 'Duet'),
    title,
    observing,
    clock,
    h('div', { class: 'spacer' }),
    h('label', { class: 'inline-label' }, h('span', { class: 'visually-hidden' }, 'Language'), languageSelect),
    createStatusView(conn),
    h('span', { class: 'you', title: `Signed in as ${you.name} (${role})` }, h('span', { class: 'avatar small', style: `background:${colorOf(you.sub)}` }, initials(you.name)), you.name, h('span', { class: `role-tag role-${role}` }, role)),
    endButton,
  );
  const banner = h('div', { class: 'banner', role: 'status', 'data-testid': 'ended-banner', hidden: true });
  const recorded =
    role === 'candidate' && first.interview.status === 'open'
      ? h(
          'div',
          { class: 'banner info', role: 'note', 'data-testid': 'recorded-notice' },
          'This interview is recorded for the hiring panel: the code as it is typed, the chat, large pastes, and when this tab or the editor loses focus.',
          h('button', { type: 'button', class: 'button small', onclick: () => recorded?.remove() }, 'Got it'),
        )
      : null;

  // Editor, and the run panel under it
  const editorView = createEditorView(main, awareness, first.interview.language, { quietUntilFocus: role === 'observer' });
  const runPanel = createRunPanel(socket, first.interview.id, role, () => editorView.currentPath());
  editorView.element.append(runPanel.element);
  editorView.editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => runPanel.run());
  guardPasteSize(editorView.editor, main.getMap<Y.Text>('files'), (message) => toast(message));

  // Sidebar
  const participants = createParticipantsView(you.sub);
  const chat = createChatView(socket, role, you.sub);
  const notes = panel ? createNotesView(provider.doc('notes')) : undefined;
  const tabs: Array<{ id: string; label: string; pane: HTMLElement }> = [{ id: 'chat', label: 'Chat', pane: chat.element }];
  if (notes) tabs.push({ id: 'notes', label: 'Notes', pane: notes.element });
  if (panel) tabs.push({ id: 'invite', label: role === 'interviewer' ? 'Invite' : 'Links', pane: createInvitePanel(token, first.interview.id, role) });
  const tabButtons = tabs.map((t) =>
    h('button', { type: 'button', role: 'tab', class: 'side-tab', 'data-tab': t.id, 'aria-controls': `pane-${t.id}`, onclick: () => selectTab(t.id) }, t.label),
  );
  const panes = tabs.map((t) => h('div', { class: 'side-pane', id: `pane-${t.id}`, role: 'tabpanel' }, t.pane));
  const chatBadge = h('span', { class: 'badge', hidden: true });
  tabButtons[0]!.append(chatBadge);
  chat.onUnread((n) => {
    chatBadge.hidden = n === 0;
    chatBadge.textContent = String(n);
    chatBadge.setAttribute('aria-label', `${n} unread`);
  });
  function selectTab(id: string): void {
    tabs.forEach((t, i) => {
      const on = t.id === id;
      tabButtons[i]!.setAttribute('aria-selected', String(on));
      panes[i]!.hidden = !on;
    });
    chat.setVisible(id === 'chat');
    if (id === 'notes') notes?.layout();
  }
  const sideTabList = h('div', { class: 'side-tabs', role: 'tablist', 'aria-label': 'Side panel' }, ...tabButtons);
  tablistKeys(sideTabList);
  const sidebar = h(
    'aside',
    { class: 'sidebar', 'aria-label': 'Interview' },
    participants.element,
    tabs.length > 1 ? sideTabList : null,
    ...panes,
  );
  selectTab('chat');

  root.replaceChildren(h('div', { class: 'room', 'data-role': role }, header, banner, recorded, h('main', { class: 'room-main' }, editorView.element, sidebar)));

  // State
  let bannerReplay: HTMLButtonElement | undefined;
  /** The language at each copy of the interview seen: what each of this page's changes replaced. */
  const languages = new LanguageHistory();
  languages.record(interview.value);
  /** Aborted when the page leaves the room: a rename still waiting for its file gives up. */
  const leaving = new AbortController();
  // The clock: from the candidate's first join (a list's, kept: it never moves) to now or the
  // end. Those are the node's times, so "now" is too: this page's clock plus the difference
  // `session` showed (a browser minutes off would otherwise count from the wrong moment).
  let startedAt: number | undefined;
  let clockOffset = 0;
  /** When this page saw the end, for an end it was told of without its time (a refused edit). */
  let endSeenAt: number | undefined;
  const showClock = () => {
    if (startedAt === undefined) return;
    const { status, endedAt } = interview.value;
    const now = Date.now() + clockOffset;
    const until = status !== 'ended' ? now : endedAt ? Date.parse(endedAt) : (endSeenAt ??= now);
    // A candidate who first opened the link after the end: nothing was timed.
    clock.hidden = startedAt >= until && status === 'ended';
    clock.textContent = clockText(until - startedAt);
    clock.title = `${status === 'ended' ? 'How long the interview ran' : 'Time since the candidate joined'}, from ${new Date(startedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  };
  const noteStart = (list: readonly Participant[]) => {
    const start = clockStart(list);
    if (start !== undefined && (startedAt === undefined || start < startedAt)) startedAt = start;
    showClock();
  };
  const ticking = setInterval(showClock, 1000);
  const applyInterview = (next: Interview) => {
    languages.record(next);
    if (!interview.take(next)) return;
    title.textContent = next.title;
    document.title = `${next.title} · Duet`;
    languageSelect.value = next.language;
    editorView.setLanguage(next.language);
    const ended = next.status === 'ended';
    const readOnly = ended || !can.writeDoc(role, 'main');
    editorView.setReadOnly(readOnly, ended ? 'The interview has ended.' : 'Observers cannot edit the code.');
    notes?.setReadOnly(ended);
    runPanel.setInterview(next);
    chat.setEnded(ended);
    languageSelect.disabled = ended || !can.changeLanguage(role);
    banner.hidden = !ended;
    // An interviewer's next step after the end is the replay: offered here, not only under Invite.
    if (ended && !bannerReplay && role === 'interviewer') bannerReplay = openReplayButton(token, next.id, 'banner-open-replay');
    banner.replaceChildren(
      ended
        ? `This interview ended${next.endedAt ? ` at ${new Date(next.endedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : ''}. Everything is read-only now.`
        : '',
      ...(ended && bannerReplay ? [' ', bannerReplay] : []),
    );
    if (endButton) endButton.hidden = ended;
    root.querySelector('.room')?.classList.toggle('ended', ended);
    showClock();
  };
  const onSession = (session: SessionInfo) => {
    if (session.serverTime && Number.isFinite(Date.parse(session.serverTime))) clockOffset = Date.parse(session.serverTime) - Date.now();
    assignColors(session.participants);
    runPanel.setRunLanguages(session.runLanguages);
    applyInterview(session.interview);
    noteStart(session.participants);
    participants.update(session.participants);
    participants.setConnected(true);
    chat.reset(session.chat);
  };
  onSession(first);

  socket.on('interview', (next, change) => {
    applyInterview(next);
    // Said in the room's chat, so a language switched under someone's hands has a name:
    // whether or not this copy was news (the one who ended it had the answer first), once per change.
    if (!change) return;
    const who = change.by.sub === you.sub ? 'You' : change.by.name;
    const id = `interview:${next.seq ?? change.at}`;
    if (change.kind === 'language') chat.addNotice('room', id, change.at, `${who} changed the language to ${LANGUAGES[next.language].label}.`);
    else if (change.kind === 'end') chat.addNotice('room', id, change.at, `${who} ended the interview.`);
  });
  // Until `session` on a new connection brings the list anew, it is last heard's.
  participants.setConnected(socket.connected);
  socket.on('disconnect', () => participants.setConnected(false));
  socket.on('participants', (list) => {
    assignColors(list);
    noteStart(list);
    participants.update(list);
  });
  socket.on('chat:message', (m) => chat.add(m));
  socket.on('signal', (signal) => {
    const text = describeSignal(signal);
    if (text) chat.addNotice('panel', signal.id, signal.at, text);
  });
  // After the first `session`'s state (the room's listeners are registered above).
  early.replay();
  const stopSignals = role === 'candidate' ? reportSignals(socket, editorView.editor, () => editorView.currentPath()) : () => {};
  // Told once per refusal: while it stands, every resync is refused again.
  let toldRefused = false;
  provider.on('pending', () => {
    if (!provider.refusedEdit) toldRefused = false;
  });
  provider.on('refused', (error) => {
    if (error.code === 'interview_ended') applyInterview({ ...interview.value, status: 'ended' });
    else if (!toldRefused) {
      toldRefused = !!provider.refusedEdit;
      toast(`An edit was refused: ${error.message}. Undo it (Ctrl+Z): until then nothing you type is saved.`);
    }
  });

  const changeLanguage = async (language: Language) => {
    const held = interview.value.language;
    let made: Interview | undefined;
    try {
      const reply = await socket.timeout(10_000).emitWithAck('interview:language', { language });
      if (isErrorBody(reply)) throw new Error(reply.error.message);
      made = reply.interview;
      if (made) applyInterview(made);
    } catch (err) {
      languageSelect.value = interview.value.language;
      toast(`Could not change the language: ${err instanceof Error ? err.message : 'no answer'}`);
      return;
    }
    // This change's link of the chain (language-rename.ts): from the file of the language it
    // replaced, even if someone has changed it again since (their page renames on from here).
    // (An older node's answer has no interview: then the language this page held.)
    const replaced = made ? languages.before(made) : held;
    const from = replaced && replaced !== language ? LANGUAGES[replaced]?.file : undefined;
    // Not awaited: a starting file renamed away by hand would hold this page's next change for the wait.
    if (from) void renameOnceThere(main.getMap<Y.Text>('files'), editorView.renameFile, from, LANGUAGES[language].file, { signal: leaving.signal });
  };
  // One at a time (arrow keys on the select send a change per key): each then renames from
  // the language the one before it left.
  let languageChanges = Promise.resolve();
  languageSelect.addEventListener('change', () => {
    const language = languageSelect.value as Language;
    languageChanges = languageChanges.then(() => changeLanguage(language));
  });

  endButton?.addEventListener('click', async () => {
    if (!confirm('End the interview for everyone? The editor becomes read-only and cannot be reopened.')) return;
    endButton.disabled = true;
    try {
      applyInterview(await api.end(token, interview.value.id));
    } catch (err) {
      toast(`Could not end the interview: ${err instanceof ApiError ? err.message : 'error'}`);
    } finally {
      endButton.disabled = false;
    }
  });

  // Time to an editable editor, for the README's numbers and the tests.
  void provider.whenSynced('main').then(() => {
    if (performance.getEntriesByName('duet:editable').length === 0) performance.mark('duet:editable');
    if (can.writeDoc(role, 'main') && interview.value.status === 'open') editorView.editor.focus();
  });

  // Closing the tab with edits the node has not confirmed would lose them: ask first.
  window.addEventListener('beforeunload', (e) => {
    if (provider.unsaved) e.preventDefault();
  });

  // A read-only window onto what this page already holds, for tests and for
  // debugging a session from the console. Nothing here the page does not show.
  (window as unknown as { duetDebug: unknown }).duetDebug = {
    role,
    files: () => Object.fromEntries([...main.getMap<Y.Text>('files').entries()].map(([k, v]) => [k, v.toString()])),
    notes: () => (panel ? provider.doc('notes').getText('notes').toString() : null),
    pending: () => provider.pending,
    connected: () => socket.connected && provider.status === 'connected',
    docs: () => [...provider.docs.keys()],
  };

  return {
    onSession,
    destroy() {
      clearInterval(ticking);
      leaving.abort();
      stopSignals();
      editorView.destroy();
      notes?.destroy();
    },
  };
}

/** The code as this page holds it, to copy before leaving, when some of it was never saved. */
function unsavedCode(main: Y.Doc): HTMLElement {
  const files = main.getMap<Y.Text>('files');
  const text = [...files.keys()]
    .sort()
    .map((path) => (files.size > 1 ? `// ${path}\n${files.get(path)!.toString()}` : files.get(path)!.toString()))
    .join('\n\n');
  const box = h('textarea', { class: 'input unsaved-code', readonly: true, rows: 10, 'aria-label': 'Your code as this page had it', 'data-testid': 'unsaved-code' });
  box.value = text;
  const copy = h('button', { type: 'button', class: 'button' }, 'Copy the code');
  copy.addEventListener('click', async () => {
    copy.textContent = (await copyText(text)) ? 'Copied' : 'Select the text and copy it';
  });
  return h(
    'div',
    { class: 'unsaved' },
    h('p', { class: 'form-error' }, 'The server had not confirmed your latest edits, so they may not be saved. Here is the code as this page had it: copy what you need before you leave.'),
    box,
    copy,
  );
}
