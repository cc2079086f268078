/** An interview's documents as the durable log holds them: latest snapshot plus the tail. */
import * as Y from 'yjs';
import type { DocName } from '../../shared/roles.js';
import { applyUpdateCut } from '../../shared/yjs-overlap.js';
import { filesOf } from '../rooms/yjs-checks.js';
import type { Store } from '../store/store.js';

async function loadDoc(store: Store, interviewId: string, doc: DocName): Promise<Y.Doc> {
  const ydoc = new Y.Doc();
  const snapshot = await store.latestSnapshot(interviewId, doc);
  if (snapshot) Y.applyUpdate(ydoc, snapshot.state);
  let after = snapshot?.seq ?? 0;
  for (;;) {
    const events = await store.readEvents(interviewId, { after, type: 'doc', doc, limit: 5000 });
    for (const e of events) if (e.bin) applyUpdateCut(ydoc, e.bin);
    if (events.length < 5000) return ydoc;
    after = events[events.length - 1]!.seq;
  }
}

export async function finalFiles(store: Store, interviewId: string): Promise<Record<string, string>> {
  const ydoc = await loadDoc(store, interviewId, 'main');
  try {
    return filesOf(ydoc);
  } finally {
    ydoc.destroy();
  }
}
