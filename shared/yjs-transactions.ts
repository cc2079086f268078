import type * as Y from 'yjs';

/** Did this Yjs transaction change the document (new structs or deletions), or was it empty? */
export function changesSomething(tr: Y.Transaction): boolean {
  return tr.deleteSet.clients.size > 0 || [...tr.afterState].some(([client, clock]) => tr.beforeState.get(client) !== clock);
}
