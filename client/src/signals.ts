/**
 * Integrity signals (docs/replay.md): a candidate's page reports large
 * pastes, the editor losing and regaining focus, and the tab being hidden or
 * shown, as they happen. The candidate is told in the room that this is
 * recorded; the panel sees them live and on the replay timeline.
 */
import { LARGE_INSERTION_CHARS } from '../../shared/limits.js';
import type { SignalNotice } from '../../shared/protocol.js';
import type { DuetClientSocket } from '../../shared/provider.js';
import type { SignalReport } from '../../shared/schemas.js';
import type { monaco } from './monaco-setup.js';


export function reportSignals(socket: DuetClientSocket, editor: monaco.editor.IStandaloneCodeEditor, currentPath: () => string | undefined): () => void {
  const report = (signal: SignalReport) => {
    // Fire and forget: a signal lost while offline is not worth queueing, and the node rate-limits them.
    if (socket.connected) socket.emit('signal:report', signal);
  };
  const withPath = (signal: SignalReport): SignalReport => {
    const path = currentPath();
    return path ? { ...signal, path } : signal;
  };
  const disposables = [
    editor.onDidPaste((e) => {
      const size = editor.getModel()?.getValueLengthInRange(e.range) ?? 0;
      // A pasted identifier is not worth a reviewer's attention.
      if (size >= LARGE_INSERTION_CHARS) report(withPath({ kind: 'paste', size }));
    }),
    editor.onDidBlurEditorWidget(() => report(withPath({ kind: 'blur' }))),
    editor.onDidFocusEditorWidget(() => report(withPath({ kind: 'focus' }))),
  ];
  const onVisibility = () => report({ kind: document.visibilityState === 'hidden' ? 'hidden' : 'visible' });
  document.addEventListener('visibilitychange', onVisibility);
  return () => {
    for (const d of disposables) d.dispose();
    document.removeEventListener('visibilitychange', onVisibility);
  };
}

/** How a signal reads in the panel's chat; focus moves are left to the replay timeline. */
export function describeSignal(signal: SignalNotice): string | undefined {
  const who = signal.from.name;
  const where = signal.path ? ` into ${signal.path}` : '';
  switch (signal.kind) {
    case 'paste':
      return `${who} pasted ${signal.size ?? 'some'} characters${where}.`;
    case 'hidden':
      return `${who} switched away from the interview tab.`;
    case 'visible':
      return `${who} came back to the interview tab.`;
    default:
      return undefined;
  }
}
