/**
 * The connection indicator: connected, reconnecting, or offline, with the
 * number of edits not yet acknowledged as durable. Edits are never dropped
 * while offline; this tells people so. And "Not saved" while the server
 * refuses an edit this page still holds (too large, say).
 */
import { h } from './dom.js';
import type { RoomConnection } from './connection.js';

export function createStatusView(conn: RoomConnection): HTMLElement {
  const label = h('span', { class: 'status-label' });
  const element = h('div', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-testid': 'connection' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), label);
  const render = () => {
    const pending = conn.provider.pending;
    const connected = conn.socket.connected && conn.provider.status === 'connected';
    const refused = conn.provider.refusedEdit;
    if (refused && connected) {
      // Every later edit builds on the refused one: none of it can be stored until it is undone.
      element.dataset.state = 'refused';
      element.dataset.pending = String(pending);
      label.textContent = 'Not saved';
      element.title = `The server refused an edit (${refused.error.message}). Undo it (Ctrl+Z) to go on saving: nothing typed since is saved until then. If this stays, reload the page: everything saved before that edit is kept.`;
      return;
    }
    const state = connected ? 'connected' : conn.reconnecting() ? 'reconnecting' : conn.provider.status === 'connecting' ? 'connecting' : 'offline';
    element.dataset.state = state;
    element.dataset.pending = String(pending);
    const edits = pending === 1 ? '1 edit' : `${pending} edits`;
    label.textContent =
      state === 'connected'
        ? pending > 0
          ? `Saving ${edits}…`
          : 'Connected'
        : state === 'connecting'
          ? 'Connecting…'
          : `${state === 'reconnecting' ? 'Reconnecting' : 'Offline'}${pending > 0 ? `: ${edits} waiting` : ''}`;
    element.title =
      state === 'connected' ? 'All edits are saved on the server once this says Connected.' : 'Keep typing: your edits are kept and sent when the connection is back.';
  };
  conn.provider.on('status', render);
  conn.provider.on('pending', render);
  conn.socket.on('connect', render);
  conn.socket.on('disconnect', render);
  conn.socket.on('connect_error', render);
  conn.socket.io.on('reconnect_attempt', render);
  render();
  return element;
}
