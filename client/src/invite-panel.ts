/**
 * Interviewer tools: invite links to hand out (each a fresh token scoped to
 * this interview), the links handed out so far (revocable), and the replay
 * link for the hiring panel. Observers see
 * what they may do instead: the node lets only interviewers mint invites.
 */
import type { InviteRole, Role } from '../../shared/roles.js';
import { api, ApiError, type InviteInfo } from './api-client.js';
import { copyText, h } from './dom.js';

const KINDS: Array<{ role: InviteRole; label: string; name: string; hint: string }> = [
  { role: 'candidate', label: 'Candidate', name: 'Candidate', hint: 'Edits the code and chats in the room.' },
  { role: 'observer', label: 'Observer', name: 'Observer', hint: 'Watches read-only, reads the notes, chats with the panel.' },
  { role: 'interviewer', label: 'Interviewer', name: 'Interviewer', hint: 'A co-interviewer with every right you have.' },
  { role: 'reviewer', label: 'Replay (reviewer)', name: 'Reviewer', hint: 'Replays the whole session afterwards.' },
];

export function createInvitePanel(token: string, interviewId: string, role: Role): HTMLElement {
  if (role !== 'interviewer') {
    return h(
      'section',
      { class: 'invites' },
      h('p', { class: 'hint' }, 'Observers cannot hand out links. Ask an interviewer for invite links and for the replay after the interview.'),
    );
  }
  const handedOut = createHandedOutList(token, interviewId);
  const rows = KINDS.map((kind) => inviteRow(token, interviewId, kind, handedOut.refresh));
  const replay = openReplayButton(token, interviewId, 'open-replay');
  return h(
    'section',
    { class: 'invites', 'aria-label': 'Invite links' },
    h('p', { class: 'hint' }, 'Each link carries its own sign-in. Send it to one person only.'),
    ...rows,
    h('div', { class: 'replay-link' }, replay),
    handedOut.element,
  );
}

/** A button that opens the interview's replay in a new tab, as the person signed in (their own reviewer token). */
export function openReplayButton(token: string, interviewId: string, testId: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'button', 'data-testid': testId }, 'Open the replay');
  button.addEventListener('click', async () => {
    // Opened before the await so the popup blocker sees a user gesture.
    const win = window.open('about:blank', '_blank');
    try {
      const { url } = await api.ownToken(token, interviewId, 'reviewer');
      if (win) {
        win.opener = null;
        win.location.href = url;
      } else location.href = url;
    } catch (err) {
      win?.close();
      button.textContent = `Could not open: ${err instanceof ApiError ? err.message : 'error'}`;
    }
  });
  return button;
}

/**
 * The links handed out so far, each revocable: a link sent to the wrong
 * person, or a co-interviewer who has left (the node revokes the links they
 * made too, and drops whoever is in the room on them).
 */
function createHandedOutList(token: string, interviewId: string): { element: HTMLElement; refresh: () => void } {
  const list = h('ul', { class: 'handed-out', 'aria-label': 'Links handed out', 'data-testid': 'handed-out' });
  const note = h('p', { class: 'hint', role: 'status' });
  const refreshButton = h('button', { type: 'button', class: 'button ghost' }, 'Refresh');
  const render = (invites: InviteInfo[]) => {
    list.replaceChildren(
      ...[...invites].reverse().map((invite) => {
        const expired = Date.parse(invite.expiresAt) <= Date.now();
        const state = invite.revokedAt ? 'revoked' : expired ? 'expired' : 'active';
        const revoke = h('button', { type: 'button', class: 'button ghost', 'aria-label': `Revoke ${invite.name} (${invite.role})` }, 'Revoke');
        revoke.addEventListener('click', async () => {
          if (!confirm(`Revoke ${invite.name}'s ${invite.role} link? Whoever uses it leaves the room now.`)) return;
          revoke.disabled = true;
          try {
            const { minted } = await api.revokeInvite(token, interviewId, invite.id);
            note.textContent = minted.length > 0 ? `Revoked, with ${minted.length} more link${minted.length === 1 ? '' : 's'} made with it.` : 'Revoked.';
          } catch (err) {
            note.textContent = err instanceof ApiError ? err.message : 'Could not revoke the link.';
          }
          refresh();
        });
        return h(
          'li',
          { class: `handed-out-item ${state}`, 'data-invite-id': invite.id },
          h('span', {}, h('strong', {}, invite.name), ` · ${invite.role}`),
          state === 'active' ? revoke : h('span', { class: 'hint' }, state),
        );
      }),
    );
    if (invites.length === 0) list.append(h('li', { class: 'hint' }, 'No links yet.'));
  };
  const refresh = () => {
    api.listInvites(token, interviewId).then(
      ({ invites }) => render(invites),
      (err: unknown) => {
        note.textContent = err instanceof ApiError ? err.message : 'Could not load the links.';
      },
    );
  };
  refreshButton.addEventListener('click', refresh);
  refresh();
  return {
    element: h('div', { class: 'invite-row' }, h('div', { class: 'invite-head' }, h('strong', {}, 'Links handed out'), refreshButton), list, note),
    refresh,
  };
}

function inviteRow(token: string, interviewId: string, kind: (typeof KINDS)[number], made: () => void): HTMLElement {
  const name = h('input', { class: 'input', 'aria-label': `${kind.label} name`, value: kind.name, maxlength: 100 });
  const output = h('input', { class: 'input link-output', readonly: true, 'aria-label': `${kind.label} link`, hidden: true });
  const copy = h('button', { type: 'button', class: 'button', hidden: true }, 'Copy');
  const make = h('button', { type: 'button', class: 'button primary', 'data-invite': kind.role }, 'Create link');
  const note = h('span', { class: 'hint', role: 'status' });
  make.addEventListener('click', async () => {
    make.disabled = true;
    note.textContent = '';
    try {
      const { url } = await api.invite(token, interviewId, kind.role, name.value.trim() || kind.name);
      made();
      output.value = url;
      output.hidden = false;
      copy.hidden = false;
      note.textContent = (await copyText(url)) ? 'Copied to the clipboard.' : '';
    } catch (err) {
      note.textContent = err instanceof ApiError ? err.message : 'Could not create the link.';
    } finally {
      make.disabled = false;
    }
  });
  copy.addEventListener('click', async () => {
    note.textContent = (await copyText(output.value)) ? 'Copied to the clipboard.' : 'Select the link and copy it.';
  });
  output.addEventListener('focus', () => output.select());
  return h(
    'div',
    { class: 'invite-row' },
    h('div', { class: 'invite-head' }, h('strong', {}, kind.label), h('span', { class: 'hint' }, kind.hint)),
    h('div', { class: 'invite-controls' }, name, make),
    h('div', { class: 'invite-controls' }, output, copy),
    note,
  );
}
