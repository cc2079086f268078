/**
 * Chat: the room channel for everyone, and the private `panel` channel for
 * interviewers and observers (the node never sends it to a candidate; this
 * view does not even draw its tab for one). Enter sends, Shift+Enter breaks
 * the line; a tab that is not shown counts what arrived since it was.
 */
import { LIMITS } from '../../shared/limits.js';
import type { ChatMessage } from '../../shared/protocol.js';
import { can, CHAT_CHANNELS, type ChatChannel, type Role } from '../../shared/roles.js';
import { isErrorBody } from '../../shared/errors.js';
import type { DuetClientSocket } from '../../shared/provider.js';
import { colorOf } from './colors.js';
import { clear, h, tablistKeys, timeOf } from './dom.js';

export interface ChatView {
  readonly element: HTMLElement;
  /** The whole history, from `session` (on every connect). */
  reset(messages: ChatMessage[]): void;
  add(message: ChatMessage): void;
  /** A line from the room itself (an integrity signal), not from a person. */
  addNotice(channel: ChatChannel, id: string, at: string, text: string): void;
  setEnded(ended: boolean): void;
  /** Total unread, for the sidebar tab. */
  onUnread(fn: (count: number) => void): void;
  setVisible(visible: boolean): void;
}

const CHANNEL_LABEL: Record<ChatChannel, string> = { room: 'Room', panel: 'Panel' };
const OFFLINE_NOTICE = 'Offline: the message was not sent. It stays here until you can send it.';
const CHANNEL_HINT: Record<ChatChannel, string> = {
  room: 'Everyone in the room, the candidate included',
  panel: 'Interviewers and observers only: never shown to the candidate',
};

export function createChatView(socket: DuetClientSocket, role: Role, selfSub: string): ChatView {
  const channels = CHAT_CHANNELS.filter((c) => can.readChat(role, c));
  type Entry = ChatMessage | { notice: true; id: string; at: string; channel: ChatChannel; text: string };
  const messages = new Map<ChatChannel, Entry[]>(channels.map((c) => [c, []]));
  const seen = new Set<string>();
  const unread = new Map<ChatChannel, number>(channels.map((c) => [c, 0]));
  let active: ChatChannel = channels.includes('room') && can.sendChat(role, 'room') ? 'room' : (channels[channels.length - 1] ?? 'room');
  let visible = true;
  let ended = false;
  let unreadListener: (n: number) => void = () => {};

  const tabButtons = new Map<ChatChannel, HTMLButtonElement>();
  const tabBar = h('div', { class: 'chat-tabs', role: 'tablist', 'aria-label': 'Chat channels' });
  for (const c of channels) {
    const button = h('button', {
      type: 'button',
      role: 'tab',
      class: 'chat-tab',
      'data-channel': c,
      title: CHANNEL_HINT[c],
      // A mouse click goes on to the message field; arrow keys (a synthetic click, detail 0) stay on the tabs.
      onclick: (e: Event) => select(c, (e as MouseEvent).detail > 0),
    });
    tabButtons.set(c, button);
    tabBar.append(button);
  }
  tablistKeys(tabBar);
  const list = h('ol', { class: 'chat-list', 'aria-live': 'polite', 'aria-label': 'Messages', 'data-testid': 'chat-list' });
  const input = h('textarea', {
    class: 'chat-input',
    rows: 2,
    maxlength: LIMITS.chatChars,
    'aria-label': 'Message',
    'data-testid': 'chat-input',
  });
  const status = h('p', { class: 'chat-status', role: 'status' });
  const element = h('section', { class: 'chat', 'aria-label': 'Chat' }, channels.length > 1 ? tabBar : null, list, status, input);

  // The box takes no more than a message may hold (maxlength), cutting a longer paste: said once the box is full.
  const full = `A message holds at most ${LIMITS.chatChars.toLocaleString('en')} characters.`;
  input.addEventListener('input', () => {
    if (input.value.length >= LIMITS.chatChars) status.textContent = full;
    else if (status.textContent === full) status.textContent = '';
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    }
  });

  async function send(): Promise<void> {
    const text = input.value.trim();
    if (!text || input.disabled) return;
    if (!socket.connected) {
      status.textContent = OFFLINE_NOTICE;
      return;
    }
    const channel = active;
    input.value = '';
    status.textContent = '';
    try {
      const reply = await socket.timeout(10_000).emitWithAck('chat:send', { channel, text });
      if (isErrorBody(reply)) throw new Error(reply.error.message);
      add(reply.message);
    } catch (err) {
      if (!input.value) input.value = text;
      status.textContent = `Not sent: ${err instanceof Error ? err.message : 'no answer from the server'}`;
    }
  }

  function select(channel: ChatChannel, focusInput: boolean): void {
    active = channel;
    unread.set(channel, 0);
    render();
    if (focusInput && !input.disabled) input.focus();
  }

  function add(message: ChatMessage): void {
    if (seen.has(message.id)) return;
    const list = messages.get(message.channel);
    if (!list) return; // a channel this role does not read (the node never sends one)
    seen.add(message.id);
    list.push(message);
    if ((message.channel !== active || !visible) && message.from.sub !== selfSub) {
      unread.set(message.channel, (unread.get(message.channel) ?? 0) + 1);
    }
    render();
  }

  function render(): void {
    for (const [c, button] of tabButtons) {
      const n = unread.get(c) ?? 0;
      button.setAttribute('aria-selected', String(c === active));
      button.replaceChildren(CHANNEL_LABEL[c], n > 0 ? h('span', { class: 'badge', 'aria-label': `${n} unread` }, String(n)) : '');
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    clear(list);
    const shown = messages.get(active) ?? [];
    if (shown.length === 0) list.append(h('li', { class: 'chat-empty' }, active === 'panel' ? 'Private notes to the panel go here.' : 'No messages yet.'));
    for (const m of shown) list.append('notice' in m ? chatNoticeItem(m.channel, m.at, m.text) : chatMessageItem(m, selfSub));
    const last = shown.at(-1);
    if (atBottom || (last && !('notice' in last) && last.from.sub === selfSub)) list.scrollTop = list.scrollHeight;
    const canSend = can.sendChat(role, active) && !ended;
    input.disabled = !canSend;
    input.placeholder = ended
      ? 'The interview has ended.'
      : canSend
        ? `Message ${active === 'panel' ? 'the panel' : 'the room'} (Enter to send, Shift+Enter for a new line)`
        : 'Observers write in the Panel channel only.';
    unreadListener(total());
  }

  const total = () => [...unread.values()].reduce((a, b) => a + b, 0);

  render();
  return {
    element,
    reset(history) {
      // Back from a lost connection (`session` comes on every connect): the offline notice is stale.
      if (status.textContent === OFFLINE_NOTICE) status.textContent = input.value.trim() ? 'Connected again: press Enter to send your message.' : '';
      const first = seen.size === 0;
      for (const m of history) add(m);
      // The history found on arrival is not news; what came in while offline is.
      if (first) for (const c of channels) unread.set(c, 0);
      render();
    },
    add,
    addNotice(channel, id, at, text) {
      const list = messages.get(channel);
      if (!list || seen.has(`notice:${id}`)) return;
      seen.add(`notice:${id}`);
      list.push({ notice: true, id, at, channel, text });
      render();
    },
    setEnded(next) {
      ended = next;
      render();
    },
    onUnread(fn) {
      unreadListener = fn;
      fn(total());
    },
    setVisible(next) {
      visible = next;
      if (next) unread.set(active, 0);
      render();
    },
  };
}

/** One message as the chat list shows it (the replay page draws its chat with it too). */
export function chatMessageItem(m: ChatMessage, selfSub: string): HTMLLIElement {
  return h(
    'li',
    { class: `chat-message${m.from.sub === selfSub ? ' mine' : ''}`, 'data-channel': m.channel },
    h(
      'div',
      { class: 'chat-meta' },
      h('span', { class: 'chat-author', style: `color:${colorOf(m.from.sub)}` }, m.from.name),
      h('span', { class: `role-tag role-${m.from.role}` }, m.from.role),
      h('time', { datetime: m.at, title: new Date(m.at).toLocaleString() }, timeOf(m.at)),
    ),
    h('p', { class: 'chat-text' }, m.text),
  );
}

/** A line from the room itself (an integrity signal), not from a person. */
export function chatNoticeItem(channel: ChatChannel, at: string, text: string): HTMLLIElement {
  return h('li', { class: 'chat-notice', 'data-channel': channel }, h('time', { datetime: at }, timeOf(at)), ' ', text);
}
