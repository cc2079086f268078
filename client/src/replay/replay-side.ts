/**
 * The replay's side panel, as it was at the instant shown: who was there,
 * the chat (room and panel, with the candidate's pastes and tab switches as
 * notices in the panel channel, as interviewers saw them live) and the
 * interviewers' notes. Drawn with the room's own views and message items.
 */
import { LIMITS } from '../../../shared/limits.js';
import type { Actor, ChatMessage, Participant, SignalNotice } from '../../../shared/protocol.js';
import { readLoggedRun } from '../../../shared/run-log.js';
import type { SignalMark } from '../../../shared/replay/index.js';
import type { ChatChannel } from '../../../shared/roles.js';
import { chatMessageItem, chatNoticeItem } from '../chat-view.js';
import { colorOf } from '../colors.js';
import { clear, h, tablistKeys } from '../dom.js';
import { createParticipantsView } from '../participants-view.js';
import { linesOf, runInputUsed } from '../run-input.js';
import { describeExit } from '../run-panel.js';
import { describeSignal } from '../signals.js';
import { formatClock } from './format.js';

export interface SideState {
  participants: Participant[];
  chat: ChatMessage[];
  signals: SignalMark[];
  notes: string;
  /** The notes in runs of one author each, in order (their texts make up `notes`). */
  notesBy: Array<{ text: string; by: Actor | null }>;
  /** Tint each author's part of the notes in their colour (the "Author colours" switch). */
  tinted: boolean;
  /** Code runs finished by this instant (`run` events: who, and the run's data). */
  runs: Array<{ seq: number; at: string; by: Actor; data: Record<string, unknown> }>;
}

export interface ReplaySide {
  readonly element: HTMLElement;
  update(state: SideState): void;
}

const CHANNELS: Array<{ id: ChatChannel; label: string; hint: string }> = [
  { id: 'room', label: 'Room', hint: 'What everyone in the room, the candidate included, could read' },
  { id: 'panel', label: 'Panel', hint: 'Interviewers and observers only, never shown to the candidate; integrity notices too' },
];

export function createReplaySide(selfSub: string): ReplaySide {
  const participants = createParticipantsView(selfSub);
  let channel: ChatChannel = 'room';
  let last: SideState = { participants: [], chat: [], signals: [], notes: '', notesBy: [], tinted: true, runs: [] };
  const keys = { people: '', chat: '', notes: '', runs: -1 };

  const channelTabs = new Map<ChatChannel, HTMLButtonElement>();
  const channelBar = h('div', { class: 'chat-tabs', role: 'tablist', 'aria-label': 'Chat channels' });
  for (const c of CHANNELS) {
    const b = h('button', { type: 'button', role: 'tab', class: 'chat-tab', 'data-channel': c.id, title: c.hint, onclick: () => selectChannel(c.id) });
    channelTabs.set(c.id, b);
    channelBar.append(b);
  }
  tablistKeys(channelBar);
  const list = h('ol', { class: 'chat-list', 'aria-label': 'Messages until this instant', 'data-testid': 'replay-chat' });
  const chat = h('section', { class: 'chat' }, channelBar, list);
  const notes = h('pre', { class: 'replay-notes', 'data-testid': 'replay-notes' });
  const notesPane = h('section', { class: 'notes' }, h('p', { class: 'hint' }, "The interviewers' shared notes at this instant. Never shown to the candidate."), notes);

  const runList = h('ol', { class: 'replay-runs', 'aria-label': 'Code runs until this instant', 'data-testid': 'replay-runs' });
  const runsPane = h('section', { class: 'notes' }, h('p', { class: 'hint' }, 'Code runs finished by this instant, with what they printed.'), runList);

  const tabs = [
    { id: 'chat', label: 'Chat', pane: chat },
    { id: 'notes', label: 'Notes', pane: notesPane },
    { id: 'runs', label: 'Runs', pane: runsPane },
  ];
  const tabButtons = tabs.map((t) => h('button', { type: 'button', role: 'tab', class: 'side-tab', 'data-tab': t.id, onclick: () => selectTab(t.id) }, t.label));
  const panes = tabs.map((t) => h('div', { class: 'side-pane', role: 'tabpanel' }, t.pane));
  const sideTabs = h('div', { class: 'side-tabs', role: 'tablist', 'aria-label': 'Side panel' }, ...tabButtons);
  tablistKeys(sideTabs);
  const element = h('aside', { class: 'sidebar', 'aria-label': 'The interview at this instant' }, participants.element, sideTabs, ...panes);

  function selectTab(id: string): void {
    tabs.forEach((t, i) => {
      tabButtons[i]!.setAttribute('aria-selected', String(t.id === id));
      panes[i]!.hidden = t.id !== id;
    });
  }

  function selectChannel(id: ChatChannel): void {
    channel = id;
    keys.chat = '';
    update(last);
  }

  function renderChat(state: SideState): void {
    const counts = { room: 0, panel: 0 };
    for (const m of state.chat) counts[m.channel]++;
    // In the log's order (a message's id is its seq), as the room showed them:
    // times are stamped on each node's clock and can run a little backwards.
    type Entry = { seq: number; item: () => HTMLLIElement };
    const entries: Entry[] = state.chat.filter((m) => m.channel === channel).map((m) => ({ seq: Number(m.id), item: () => chatMessageItem(m, selfSub) }));
    if (channel === 'panel') {
      for (const s of state.signals) {
        const text = describeSignal({ ...s, id: String(s.seq) } as SignalNotice);
        if (text) entries.push({ seq: s.seq, item: () => chatNoticeItem('panel', s.at, text) });
      }
      entries.sort((a, b) => a.seq - b.seq);
    }
    for (const [c, b] of channelTabs) {
      b.setAttribute('aria-selected', String(c === channel));
      b.replaceChildren(CHANNELS.find((x) => x.id === c)!.label, counts[c] > 0 ? h('span', { class: 'badge muted-badge' }, String(counts[c])) : '');
    }
    clear(list);
    if (entries.length === 0) list.append(h('li', { class: 'chat-empty' }, 'No messages yet at this instant.'));
    for (const e of entries) list.append(e.item());
    // The latest message of the instant is the one worth seeing.
    list.scrollTop = list.scrollHeight;
  }

  function renderRuns(runs: SideState['runs']): void {
    tabButtons[2]!.replaceChildren('Runs', runs.length > 0 ? h('span', { class: 'badge muted-badge' }, String(runs.length)) : '');
    clear(runList);
    if (runs.length === 0) runList.append(h('li', { class: 'chat-empty' }, 'Nothing was run yet at this instant.'));
    for (const run of runs) {
      const { output, exit, path, stdin, files, codeChars } = readLoggedRun(run.data);
      runList.append(
        h(
          'li',
          { class: 'replay-run' },
          h(
            'div',
            { class: 'chat-meta' },
            h('span', { class: 'chat-author', style: `color:${colorOf(run.by.sub)}` }, run.by.name),
            h('span', { class: 'run-status' }, describeExit(exit, { path })),
            h('time', { datetime: run.at }, formatClock(Date.parse(run.at))),
          ),
          stdin ? runInputUsed(stdin) : null,
          codeThatRan(files, path, codeChars),
          h(
            'pre',
            { class: 'run-output' },
            ...output.map((o) => h('span', { class: o.stream === 'stderr' ? 'stderr' : '' }, o.data)),
            output.length === 0 ? h('span', { class: 'muted' }, '(no output)') : null,
          ),
        ),
      );
    }
    runList.scrollTop = runList.scrollHeight;
  }

  function update(state: SideState): void {
    last = state;
    const people = JSON.stringify(state.participants.map((p) => [p.sub, p.online, p.name]));
    if (people !== keys.people) {
      keys.people = people;
      participants.update(state.participants);
    }
    const chatKey = `${channel} ${state.chat.length} ${state.signals.length}`;
    if (chatKey !== keys.chat) {
      keys.chat = chatKey;
      renderChat(state);
    }
    if (state.runs.length !== keys.runs) {
      keys.runs = state.runs.length;
      renderRuns(state.runs);
    }
    const notesKey = JSON.stringify([state.tinted, state.notesBy.map((r) => [r.text, r.by?.sub])]);
    if (notesKey !== keys.notes || notes.textContent === '') {
      keys.notes = notesKey;
      renderNotes(state);
    }
  }

  function renderNotes(state: SideState): void {
    clear(notes);
    notes.classList.toggle('empty', state.notes === '');
    if (state.notes === '') {
      notes.textContent = 'No notes yet at this instant.';
      return;
    }
    for (const run of state.notesBy) {
      const span = h('span', { title: run.by ? `Written by ${run.by.name}` : '' }, run.text);
      if (run.by) span.dataset.by = run.by.sub;
      if (run.by && state.tinted) span.style.backgroundColor = `${colorOf(run.by.sub)}2b`;
      notes.append(span);
    }
  }

  selectTab('chat');
  selectChannel('room');
  return { element, update };
}

/**
 * The code a run read at its start, the file it ran first. The editor shows
 * the text at the run's end, which differs when someone typed while it ran.
 * Nothing for a run logged before the code was kept.
 */
function codeThatRan(files: Record<string, string>, path: string, codeChars: number | undefined): HTMLElement | null {
  if (codeChars !== undefined) {
    return h('p', { class: 'run-code', 'data-testid': 'run-code' }, `Code that ran: not kept, ${codeChars.toLocaleString('en')} characters (a run keeps up to ${LIMITS.runCodeLoggedChars.toLocaleString('en')})`);
  }
  const paths = Object.keys(files).sort((a, b) => Number(b === path) - Number(a === path) || a.localeCompare(b));
  if (paths.length === 0) return null;
  const others = paths.filter((p) => p !== path).length;
  const size = files[path] === undefined ? [] : [linesOf(files[path])];
  const more = others === 0 ? [] : [others === 1 ? '1 more file' : `${others} more files`];
  return h(
    'details',
    { class: 'run-code', 'data-testid': 'run-code' },
    h('summary', {}, `Code that ran (${[...size, ...more].join(', ')})`),
    ...paths.map((p) => h('div', { class: 'run-code-file' }, paths.length > 1 ? h('div', { class: 'run-code-path' }, p) : null, h('pre', {}, files[p]!))),
  );
}
