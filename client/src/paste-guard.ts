/**
 * Refuses, before Monaco applies it, a paste the server would refuse: one
 * Yjs update holds at most LIMITS.updateBytes, and a document at most
 * LIMITS.docChars characters. Applied, such a paste would stay in this page's
 * document and every later edit would build on it, so none could be saved
 * until it was undone (the status then says "Not saved").
 */
import type * as Y from 'yjs';
import { LIMITS } from '../../shared/limits.js';
import type { monaco } from './monaco-setup.js';

/** Room for the update's own encoding (ids, lengths) around the text. */
const UPDATE_OVERHEAD_BYTES = 16 * 1024;

export function guardPasteSize(editor: monaco.editor.IStandaloneCodeEditor, files: Y.Map<Y.Text>, refuse: (message: string) => void): () => void {
  const onPaste = (e: ClipboardEvent) => {
    const text = e.clipboardData?.getData('text/plain') ?? '';
    if (text.length === 0) return;
    let chars = 0;
    for (const t of files.values()) chars += t.length;
    // The paste replaces what is selected, and goes in at every cursor (at most: Monaco
    // spreads a paste's lines over as many cursors instead).
    const model = editor.getModel();
    const selections = editor.getSelections() ?? [];
    for (const selection of selections) chars -= model?.getValueLengthInRange(selection) ?? 0;
    const copies = Math.max(1, selections.length);
    const tooBig = new TextEncoder().encode(text).length * copies > LIMITS.updateBytes - UPDATE_OVERHEAD_BYTES;
    if (!tooBig && chars + text.length * copies <= LIMITS.docChars) return;
    // Capture phase, on the editor's root: Monaco's own paste handling below never sees it.
    e.preventDefault();
    e.stopPropagation();
    const size = `${text.length.toLocaleString('en')} characters${copies > 1 ? ` at each of ${copies} cursors` : ''}`;
    refuse(
      tooBig
        ? `That paste is too large to share (${size}; about 1 MB at most at a time).`
        : `That paste would make the code longer than ${LIMITS.docChars.toLocaleString('en')} characters.`,
    );
  };
  // The container: getDomNode() is null until a model is shown.
  const root = editor.getContainerDomNode();
  root.addEventListener('paste', onPaste, true);
  return () => root.removeEventListener('paste', onPaste, true);
}
