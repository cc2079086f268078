/**
 * The code editor: one Monaco editor, one model per file of `main`'s `files`
 * map (path -> Y.Text), each bound with y-monaco, and the file tabs
 * (add, rename, delete). Models are forced to LF: y-monaco maps offsets one
 * to one, and a CRLF model shifts them between users (GOTCHAS 1).
 */
import { MonacoBinding } from 'y-monaco';
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { LANGUAGES, type Language } from '../../shared/languages.js';
import { keepOwnEditsAcrossRenames, renameFile } from '../../shared/rename-rescue.js';
import { clear, h } from './dom.js';
import { fileNameProblem, freshFileName } from './file-names.js';
import { fileTabButton } from './file-tab.js';
import { monaco, monacoLanguage, monacoTheme } from './monaco-setup.js';
import { peersByFile, publishCursor, RemoteCursors } from './remote-cursors.js';

interface FileModel {
  text: Y.Text;
  model: monaco.editor.ITextModel;
  binding: MonacoBinding;
  /** This page's own edits of the file, to undo: Monaco's own stack does not know of others' edits (below). */
  undo: Y.UndoManager;
}

/** Keystrokes closer together than this are undone together. */
const UNDO_CAPTURE_MS = 500;

/** What an undo stack item holds of a Yjs DeleteSet (not exported by yjs). */
type DeleteSetLike = { clients: Map<number, Array<{ clock: number }>> };

function firstId(set: DeleteSetLike): { client: number; clock: number } | undefined {
  for (const [client, ranges] of set.clients) if (ranges.length > 0) return { client, clock: ranges[0]!.clock };
  return undefined;
}

export interface EditorView {
  readonly element: HTMLElement;
  setLanguage(language: Language): void;
  setReadOnly(readOnly: boolean, reason: string): void;
  /** The file shown, if any. */
  currentPath(): string | undefined;
  /**
   * Renames a file for everyone (a copy under the new name, in one
   * transaction); false, and nothing changed, if `from` is not there or `to`
   * is taken. The page follows the file if it was showing it.
   */
  renameFile(from: string, to: string): boolean;
  /** The editor itself, for focus and tests. */
  readonly editor: monaco.editor.IStandaloneCodeEditor;
  destroy(): void;
}

let uriCounter = 0;

/**
 * `quietUntilFocus`: publish no caret until the person puts theirs in the
 * editor. For observers, who cannot type: a caret at 1:1 they never placed,
 * labelled with their name on the candidate's code, is noise.
 */
export function createEditorView(doc: Y.Doc, awareness: Awareness, initialLanguage: Language, options: { quietUntilFocus?: boolean } = {}): EditorView {
  const files = doc.getMap<Y.Text>('files');
  const models = new Map<string, FileModel>();
  let language = initialLanguage;
  let readOnly = false;
  let currentPath: string | undefined;
  // A tab being named (path null: a new file), kept across re-renders so remote changes do not eat it.
  let editing: { path: string | null; element: HTMLElement; input: HTMLInputElement } | undefined;
  let presenceKey = '';

  const tabs = h('div', { class: 'file-tabs', role: 'tablist', 'aria-label': 'Files' });
  const addButton = h('button', { class: 'icon-button', type: 'button', title: 'New file', 'aria-label': 'New file' }, '+');
  const tabBar = h('div', { class: 'file-bar' }, tabs, addButton);
  const host = h('div', { class: 'editor-host', 'data-testid': 'editor' });
  const element = h('section', { class: 'editor-pane', 'aria-label': 'Code editor' }, tabBar, host);

  const editor = monaco.editor.create(host, {
    model: null,
    theme: monacoTheme(),
    automaticLayout: true,
    fontSize: 14,
    // Room above line 1 for the name labels on remote cursors.
    padding: { top: 16 },
    minimap: { enabled: false },
    scrollBeyondLastLine: false,
    tabSize: 4,
    renderWhitespace: 'selection',
    fixedOverflowWidgets: true,
    // No language services are loaded, so word suggestions popping up while
    // someone types are noise (and Enter would accept them); Ctrl+Space still asks.
    quickSuggestions: false,
    suggestOnTriggerCharacters: false,
    ariaLabel: 'Shared code editor',
  });

  const cursors = new RemoteCursors(editor, doc, awareness, () =>
    currentPath !== undefined && files.get(currentPath) ? { file: currentPath, text: files.get(currentPath)! } : undefined,
  );

  let quiet = options.quietUntilFocus === true;
  const publish = () => {
    if (quiet) return;
    const model = editor.getModel();
    const path = currentPath;
    const text = path === undefined ? undefined : files.get(path);
    const selections = editor.getSelections();
    if (!model || !text || !selections || path === undefined) return;
    publishCursor(awareness, path, text, selections, model);
  };
  editor.onDidChangeCursorSelection(publish);
  editor.onDidFocusEditorText(() => {
    quiet = false;
    publish();
  });

  // Undo and redo through Yjs (FileModel.undo), by key and by the browser's own
  // history input events (a context menu's Undo, a platform shortcut).
  const history = (action: 'undo' | 'redo') => {
    const entry = currentPath === undefined ? undefined : models.get(currentPath);
    if (!entry || readOnly) return;
    if (action === 'undo') entry.undo.undo();
    else entry.undo.redo();
  };
  // Only with the text focused: in the find box, Ctrl+Z is the box's own.
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyZ, () => history('undo'), 'editorTextFocus');
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyMod.Shift | monaco.KeyCode.KeyZ, () => history('redo'), 'editorTextFocus');
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyY, () => history('redo'), 'editorTextFocus');
  editor.getContainerDomNode().addEventListener(
    'beforeinput',
    (e: InputEvent) => {
      if ((e.inputType !== 'historyUndo' && e.inputType !== 'historyRedo') || !editor.hasTextFocus()) return;
      e.preventDefault();
      e.stopPropagation();
      history(e.inputType === 'historyUndo' ? 'undo' : 'redo');
    },
    true,
  );

  function ensureModel(path: string): FileModel | undefined {
    const text = files.get(path);
    if (!(text instanceof Y.Text)) return undefined;
    const existing = models.get(path);
    if (existing && existing.text === text) return existing;
    if (existing) dropModel(path); // same path, new Y.Text (a rename back, or a concurrent re-create)
    const model = monaco.editor.createModel('', monacoLanguage(language), monaco.Uri.from({ scheme: 'duet', path: `/${++uriCounter}/${path}` }));
    model.setEOL(monaco.editor.EndOfLineSequence.LF);
    const binding = new MonacoBinding(text, model, new Set([editor]));
    // y-monaco applies others' edits with applyEdits, which Monaco's undo
    // stack does not see: its Ctrl+Z then reverts offsets that have moved and
    // deletes someone else's text (y-monaco issue #9). Yjs's UndoManager
    // undoes only this page's edits (the binding's transactions), wherever
    // they are now.
    const undo = new Y.UndoManager(text, { trackedOrigins: new Set([binding]), captureTimeout: UNDO_CAPTURE_MS });
    // y-monaco keeps the caret where it was: show where the undone (or redone) change is.
    undo.on('stack-item-popped', ({ stackItem }: { stackItem: { insertions: DeleteSetLike; deletions: DeleteSetLike } }) => {
      if (editor.getModel() !== model) return;
      const at = firstId(stackItem.insertions) ?? firstId(stackItem.deletions);
      const abs = at && Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON({ item: at }), doc);
      if (!abs || abs.type !== text) return;
      const position = model.getPositionAt(abs.index);
      editor.setPosition(position);
      editor.revealPositionInCenterIfOutsideViewport(position);
    });
    const entry = { text, model, binding, undo };
    models.set(path, entry);
    return entry;
  }

  function dropModel(path: string): void {
    const entry = models.get(path);
    if (!entry) return;
    models.delete(path);
    entry.undo.destroy();
    entry.binding.destroy();
    // One no longer on screen a moment later: Monaco's word highlighter may be awaiting a reference
    // to it (a caret move just before a rename) and logs an error if it finds it disposed.
    if (editor.getModel() === entry.model) entry.model.dispose();
    else setTimeout(() => entry.model.dispose(), 0);
  }

  function sortedPaths(): string[] {
    return [...files.keys()].filter((p) => files.get(p) instanceof Y.Text).sort();
  }

  function show(path: string | undefined): void {
    const entry = path === undefined ? undefined : ensureModel(path);
    currentPath = entry ? path : undefined;
    if (editor.getModel() !== (entry?.model ?? null)) editor.setModel(entry?.model ?? null);
    renderTabs();
    cursors.render();
    publish();
  }

  /** Keeps models in step with the map, then makes sure something sensible is shown. */
  function sync(): void {
    for (const path of [...models.keys()]) if (!(files.get(path) instanceof Y.Text) || models.get(path)!.text !== files.get(path)) dropModel(path);
    for (const path of sortedPaths()) ensureModel(path);
    if (currentPath === undefined || !files.has(currentPath)) show(sortedPaths()[0]);
    else renderTabs();
  }

  function renderTabs(): void {
    const peers = peersByFile(awareness);
    presenceKey = keyOf(peers);
    const active = document.activeElement as HTMLElement | null;
    const focusedPath = active && tabs.contains(active) ? active.dataset.path : undefined;
    clear(tabs);
    for (const path of sortedPaths()) {
      if (editing?.path === path) {
        tabs.append(editing.element);
        continue;
      }
      const selected = path === currentPath;
      const here = peers.get(path) ?? [];
      const tab = h(
        'div',
        { class: `file-tab${selected ? ' selected' : ''}` },
        fileTabButton(
          path,
          selected,
          here.map((u) => ({ color: u.color, title: `${u.name} is here` })),
          {
            title: readOnly ? path : `${path} (F2 or double-click to rename)`,
            onclick: () => show(path),
            ondblclick: () => startEditing(path),
            onkeydown: (e: Event) => {
              const key = (e as KeyboardEvent).key;
              if (key === 'F2') startEditing(path);
              if (key === 'Delete') removeFile(path);
            },
          },
        ),
        !readOnly && files.size > 1
          ? h('button', { type: 'button', class: 'file-tab-close', title: `Delete ${path}`, 'aria-label': `Delete ${path}`, onclick: () => removeFile(path) }, '×')
          : null,
      );
      tabs.append(tab);
    }
    if (editing?.path === null) tabs.append(editing.element);
    if (editing) editing.input.focus();
    else if (focusedPath !== undefined) tabs.querySelector<HTMLElement>(`[data-path="${CSS.escape(focusedPath)}"]`)?.focus();
  }

  function nameInput(path: string | null): { element: HTMLElement; input: HTMLInputElement } {
    const input = h('input', { class: 'file-tab-input', 'aria-label': path ? `Rename ${path}` : 'New file name', spellcheck: 'false' });
    input.value = path ?? freshFileName(new Set(files.keys()), extensionOf(language));
    const error = h('span', { class: 'file-tab-error', role: 'alert' });
    let done = false;
    const commit = () => {
      if (done) return;
      const name = input.value.trim();
      const problem = fileNameProblem(name, files.keys(), path ?? undefined);
      if (problem) {
        error.textContent = problem;
        input.focus();
        return;
      }
      done = true;
      editing = undefined;
      if (path === null) addFile(name);
      else if (name !== path && renameFile(files, path, name)) show(name);
      else renderTabs();
      editor.focus();
    };
    const cancel = () => {
      if (done) return;
      done = true;
      editing = undefined;
      renderTabs();
      editor.focus();
    };
    input.addEventListener('keydown', (e) => {
      // preventDefault: commit() focuses the editor, which would otherwise receive this very Enter.
      if (e.key === 'Enter') {
        e.preventDefault();
        commit();
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        cancel();
      }
    });
    // Clicking away cancels; a re-render (which moves the input) does not.
    input.addEventListener('blur', () =>
      setTimeout(() => {
        if (document.activeElement !== input) cancel();
      }, 0),
    );
    return { element: h('div', { class: 'file-tab editing' }, input, error), input };
  }

  function startEditing(path: string | null): void {
    if (readOnly) return;
    editing = { path, ...nameInput(path) };
    renderTabs();
    const { input } = editing;
    const dot = input.value.lastIndexOf('.');
    input.setSelectionRange(0, dot > 0 ? dot : input.value.length);
  }

  function addFile(name: string): void {
    files.set(name, new Y.Text());
    show(name);
  }

  function removeFile(path: string): void {
    if (readOnly || files.size <= 1) return;
    if (!confirm(`Delete ${path} for everyone?`)) return;
    files.delete(path);
  }

  addButton.addEventListener('click', () => startEditing(null));
  const onFiles = (event: Y.YMapEvent<Y.Text>) => {
    // Someone renamed the file on screen (one key deleted, one added, in one transaction): follow it.
    const changes = [...event.changes.keys];
    const added = changes.filter(([, c]) => c.action === 'add').map(([k]) => k);
    const renamedAway = changes.some(([k, c]) => k === currentPath && c.action === 'delete');
    if (renamedAway && added.length === 1 && files.get(added[0]!) instanceof Y.Text) follow(added[0]!);
    sync();
  };
  /**
   * Shows the copy a rename made of the file on screen with the caret, the
   * selection and the scroll where they were (it is the same text): a new
   * model would start at the top, and whoever was typing there would go on
   * typing at line 1.
   */
  function follow(path: string): void {
    const view = editor.saveViewState();
    show(path);
    if (!view) return;
    editor.restoreViewState(view);
    // Again once the update has applied: typing of this page's that the rename
    // missed goes back in after this (rename-rescue.ts), and the caret was
    // after it, not where the copy without it put the same line and column.
    const model = editor.getModel();
    queueMicrotask(() => {
      if (editor.getModel() === model) editor.restoreViewState(view);
    });
  }
  // Someone else's rename that missed this page's typing: the page types it again into the new file.
  const stopRescue = keepOwnEditsAcrossRenames(files);
  files.observe(onFiles);
  // Cursor moves fire constantly; only redraw the tabs when someone changes file.
  const onAwareness = () => {
    if (keyOf(peersByFile(awareness)) !== presenceKey) renderTabs();
  };
  awareness.on('change', onAwareness);
  sync();

  return {
    element,
    editor,
    currentPath: () => currentPath,
    // If it was on screen, onFiles follows it there, as for anyone's rename.
    renameFile: (from, to) => !readOnly && renameFile(files, from, to),
    setLanguage(next) {
      language = next;
      for (const { model } of models.values()) monaco.editor.setModelLanguage(model, monacoLanguage(next));
    },
    setReadOnly(next, reason) {
      readOnly = next;
      editor.updateOptions({ readOnly: next, readOnlyMessage: { value: reason } });
      addButton.hidden = next;
      if (next) editing = undefined;
      renderTabs();
    },
    destroy() {
      files.unobserve(onFiles);
      stopRescue();
      awareness.off('change', onAwareness);
      cursors.destroy();
      for (const path of [...models.keys()]) dropModel(path);
      editor.dispose();
    },
  };
}

function keyOf(peers: Map<string, Array<{ sub: string; color: string }>>): string {
  return JSON.stringify([...peers].map(([file, users]) => [file, users.map((u) => u.sub + u.color)]));
}

function extensionOf(language: Language): string {
  const file = LANGUAGES[language].file;
  return file.slice(file.lastIndexOf('.'));
}
