/** Who is in the interview: everyone who ever joined, their role, and whether they are online now. */
import type { Participant } from '../../shared/protocol.js';
import { colorOf, initials } from './colors.js';
import { clear, h } from './dom.js';

const ROLE_ORDER: Record<string, number> = { interviewer: 0, candidate: 1, observer: 2 };

export interface ParticipantsView {
  readonly element: HTMLElement;
  update(participants: Participant[]): void;
  /** While this page is not connected, who is online is not known: the list says so, not who was online when it last heard. */
  setConnected(connected: boolean): void;
}

export function createParticipantsView(selfSub: string): ParticipantsView {
  const list = h('ul', { class: 'participants', 'aria-label': 'Participants', 'data-testid': 'participants' });
  const unknown = h('p', { class: 'hint', hidden: true, 'data-testid': 'participants-unknown' }, 'Not connected: who is online now is not known.');
  const element = h('section', { class: 'participants-section' }, h('h2', { class: 'section-title' }, 'People'), unknown, list);
  return {
    element,
    setConnected(connected) {
      unknown.hidden = connected;
      list.classList.toggle('stale', !connected);
    },
    update(participants) {
      clear(list);
      const sorted = [...participants].sort(
        (a, b) => Number(b.online) - Number(a.online) || (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || a.name.localeCompare(b.name),
      );
      for (const p of sorted) {
        list.append(
          h(
            'li',
            { class: `participant${p.online ? ' online' : ''}`, 'data-role': p.role },
            h('span', { class: 'avatar', style: `background:${colorOf(p.sub)}`, 'aria-hidden': 'true' }, initials(p.name)),
            h('span', { class: 'participant-name', title: p.name }, p.name, p.sub === selfSub ? h('span', { class: 'muted' }, ' (you)') : null),
            h('span', { class: `role-tag role-${p.role}` }, p.role),
            h('span', { class: 'online-dot', title: p.online ? 'online' : 'offline', 'aria-label': p.online ? 'online' : 'offline' }),
          ),
        );
      }
    },
  };
}
