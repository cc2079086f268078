/**
 * The panel's shared notes (`notes` document, one Y.Text): a small Monaco
 * editor bound with y-monaco. Only built for interviewers and observers;
 * a candidate's page never attaches the document at all.
 */
import { MonacoBinding } from 'y-monaco';
import type * as Y from 'yjs';
import { h } from './dom.js';
import { monaco, monacoTheme } from './monaco-setup.js';

export interface NotesView {
  readonly element: HTMLElement;
  setReadOnly(readOnly: boolean): void;
  layout(): void;
  destroy(): void;
}

export function createNotesView(doc: Y.Doc): NotesView {
  const host = h('div', { class: 'notes-host', 'data-testid': 'notes' });
  const element = h(
    'section',
    { class: 'notes', 'aria-label': 'Panel notes' },
    h('p', { class: 'hint' }, 'Shared with interviewers and observers. Never shown to the candidate.'),
    host,
  );
  const model = monaco.editor.createModel('', 'plaintext', monaco.Uri.from({ scheme: 'duet-notes', path: '/notes' }));
  model.setEOL(monaco.editor.EndOfLineSequence.LF);
  const editor = monaco.editor.create(host, {
    model,
    theme: monacoTheme(),
    automaticLayout: true,
    lineNumbers: 'off',
    minimap: { enabled: false },
    wordWrap: 'on',
    folding: false,
    glyphMargin: false,
    lineDecorationsWidth: 8,
    renderLineHighlight: 'none',
    scrollBeyondLastLine: false,
    fontSize: 13,
    ariaLabel: 'Panel notes',
  });
  const binding = new MonacoBinding(doc.getText('notes'), model, new Set([editor]));
  return {
    element,
    setReadOnly(readOnly) {
      editor.updateOptions({ readOnly, readOnlyMessage: { value: 'The interview has ended.' } });
    },
    layout: () => editor.layout(),
    destroy() {
      binding.destroy();
      editor.dispose();
      model.dispose();
    },
  };
}
