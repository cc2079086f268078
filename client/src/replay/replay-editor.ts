/**
 * The replay's editor: a read-only Monaco with one model per file of the
 * instant shown, each author's text tinted in their colour (the engine's
 * attribution) and a caret with their name where each of them last edited.
 * Models are updated by a minimal edit (common prefix and suffix kept), so
 * playback does not reset the scroll position or flicker.
 */
import type { AttributedRun, AuthorCursor } from '../../../shared/replay/index.js';
import { caretLabels, roomAboveIn } from '../caret-labels.js';
import { colorOf } from '../colors.js';
import { clear, h } from '../dom.js';
import { fileTabButton } from '../file-tab.js';
import { monaco, monacoLanguage, monacoTheme } from '../monaco-setup.js';

/** What the editor needs of the instant shown (a ReplayPlayer moved there). */
export interface EditorSource {
  text(doc: 'main', path: string): string;
  attribution(doc: 'main', path: string): AttributedRun[];
  cursors(): AuthorCursor[];
  /** The name of an author, by sub. */
  nameOf(sub: string): string;
}

export interface ReplayEditor {
  readonly element: HTMLElement;
  readonly editor: monaco.editor.IStandaloneCodeEditor;
  /** Shows `path` of the instant in `source` (paths: the files that exist then, sorted). */
  render(source: EditorSource, paths: string[], path: string | undefined, language: string | null, reveal: boolean): void;
  currentPath(): string | undefined;
  /** The text of the shown model (what the reviewer sees). */
  text(): string;
  setAuthorColours(on: boolean): void;
  /** A tab was picked by hand. */
  onSelect(fn: (path: string) => void): void;
  destroy(): void;
}

let uriCounter = 0;

export function createReplayEditor(): ReplayEditor {
  const models = new Map<string, monaco.editor.ITextModel>();
  let current: string | undefined;
  let language = 'plaintext';
  let authorColours = true;
  let selectListener: (path: string) => void = () => {};
  let tabsKey = '';

  const tabs = h('div', { class: 'file-tabs', role: 'tablist', 'aria-label': 'Files at this instant' });
  const empty = h('p', { class: 'replay-empty', hidden: true }, 'No file exists at this instant.');
  const host = h('div', { class: 'editor-host', 'data-testid': 'replay-editor' });
  const element = h('section', { class: 'editor-pane replay-editor', 'aria-label': 'Code at this instant' }, h('div', { class: 'file-bar' }, tabs), host, empty);

  const editor = monaco.editor.create(host, {
    model: null,
    theme: monacoTheme(),
    automaticLayout: true,
    readOnly: true,
    readOnlyMessage: { value: 'This is a replay: it shows the code as it was at this instant.' },
    fontSize: 14,
    padding: { top: 16 },
    minimap: { enabled: false },
    scrollBeyondLastLine: false,
    renderWhitespace: 'selection',
    fixedOverflowWidgets: true,
    quickSuggestions: false,
    ariaLabel: 'Code at this instant (read-only)',
  });
  const decorations = editor.createDecorationsCollection();
  // Carets apart from the tints: their names are placed again when the editor scrolls.
  const carets = editor.createDecorationsCollection();
  let caretSpots: { pos: monaco.Position; author: number; hover: string }[] = [];
  function drawCarets(): void {
    const label = caretLabels(roomAboveIn(editor));
    carets.set(
      caretSpots.map(({ pos, author, hover }) => ({
        range: new monaco.Range(pos.lineNumber, pos.column, pos.lineNumber, pos.column),
        options: {
          beforeContentClassName: `duet-head duet-head-a${author} ${label(pos.lineNumber, pos.column)}`,
          hoverMessage: { value: hover },
          stickiness: 1,
        },
      })),
    );
  }
  editor.onDidScrollChange((e) => {
    if (e.scrollTopChanged) drawCarets();
  });

  // One class per author: a tint for their text, a caret and a name label for their cursor.
  const style = document.createElement('style');
  document.head.append(style);
  const authorIndex = new Map<string, { i: number; color: string; name: string }>();
  const authorClass = (sub: string, name: string): number => {
    const color = colorOf(sub);
    const known = authorIndex.get(sub);
    if (known && known.color === color && known.name === name) return known.i;
    authorIndex.set(sub, { i: known?.i ?? authorIndex.size, color, name });
    style.textContent = [...authorIndex.values()]
      .map(({ i, color: c, name: n }) => {
        const label = JSON.stringify(n.replace(/[\u0000-\u001f\\]/g, ' ').slice(0, 40));
        return `.duet-by-${i}{background-color:${c}2b;}.duet-head-a${i}{border-left:2px solid ${c};}.duet-head-a${i}.duet-label::after{content:${label};background:${c};}`;
      })
      .join('\n');
    return authorIndex.get(sub)!.i;
  };

  function modelFor(path: string): monaco.editor.ITextModel {
    let model = models.get(path);
    if (!model) {
      model = monaco.editor.createModel('', monacoLanguage(language), monaco.Uri.from({ scheme: 'duet-replay', path: `/${++uriCounter}/${path}` }));
      model.setEOL(monaco.editor.EndOfLineSequence.LF);
      models.set(path, model);
    }
    return model;
  }

  /** Replaces only what changed between the model and `next`. */
  function update(model: monaco.editor.ITextModel, next: string): void {
    const prev = model.getValue();
    if (prev === next) return;
    let start = 0;
    const max = Math.min(prev.length, next.length);
    while (start < max && prev.charCodeAt(start) === next.charCodeAt(start)) start++;
    let end = 0;
    while (end < max - start && prev.charCodeAt(prev.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
    const from = model.getPositionAt(start);
    const to = model.getPositionAt(prev.length - end);
    model.applyEdits([{ range: new monaco.Range(from.lineNumber, from.column, to.lineNumber, to.column), text: next.slice(start, next.length - end) }]);
  }

  function renderTabs(paths: string[], cursors: AuthorCursor[]): void {
    const here = new Map<string, AuthorCursor[]>();
    for (const c of cursors) if (c.doc === 'main' && c.path !== null) here.set(c.path, [...(here.get(c.path) ?? []), c]);
    const key = JSON.stringify([current, paths, [...here].map(([p, cs]) => [p, cs.map((c) => c.author.sub)])]);
    if (key === tabsKey) return;
    tabsKey = key;
    const focused = (document.activeElement as HTMLElement | null)?.dataset.path;
    clear(tabs);
    for (const path of paths) {
      const selected = path === current;
      tabs.append(
        h(
          'div',
          { class: `file-tab${selected ? ' selected' : ''}` },
          fileTabButton(
            path,
            selected,
            (here.get(path) ?? []).map((c) => ({ color: colorOf(c.author.sub), title: `${c.author.name} last edited here` })),
            { tabindex: selected ? '0' : '-1', onclick: () => selectListener(path) },
          ),
        ),
      );
    }
    if (focused !== undefined) tabs.querySelector<HTMLElement>(`[data-path="${CSS.escape(focused)}"]`)?.focus();
  }

  tabs.addEventListener('keydown', (e) => {
    const list = [...tabs.querySelectorAll<HTMLElement>('[role="tab"]')];
    const i = list.indexOf(document.activeElement as HTMLElement);
    if (i < 0 || (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight')) return;
    // Arrow keys here move between files; the page's own arrow keys (seek) must not see them.
    e.preventDefault();
    e.stopPropagation();
    const next = list[(i + (e.key === 'ArrowRight' ? 1 : list.length - 1)) % list.length];
    next?.focus();
    next?.click();
  });

  return {
    element,
    editor,
    currentPath: () => current,
    text: () => editor.getModel()?.getValue() ?? '',
    onSelect(fn) {
      selectListener = fn;
    },
    setAuthorColours(on) {
      authorColours = on;
      tabsKey = '';
    },
    render(source, paths, path, nextLanguage, reveal) {
      const lang = monacoLanguage(nextLanguage ?? 'plaintext');
      if (lang !== language) {
        language = lang;
        for (const model of models.values()) monaco.editor.setModelLanguage(model, lang);
      }
      // Files that do not exist at this instant lose their models (they come back from the source if needed).
      for (const [p, model] of models) {
        if (!paths.includes(p)) {
          models.delete(p);
          if (editor.getModel() === model) editor.setModel(null);
          model.dispose();
        }
      }
      current = path !== undefined && paths.includes(path) ? path : paths[0];
      const cursors = source.cursors();
      renderTabs(paths, cursors);
      empty.hidden = current !== undefined;
      host.hidden = current === undefined;
      // Before the edit and setModel below, whose scrolls redraw the carets: the old ones are stale.
      caretSpots = [];
      if (current === undefined) {
        decorations.clear();
        carets.clear();
        return;
      }
      const model = modelFor(current);
      update(model, source.text('main', current));
      if (editor.getModel() !== model) editor.setModel(model);

      const list: monaco.editor.IModelDeltaDecoration[] = [];
      if (authorColours) {
        for (const run of source.attribution('main', current)) {
          if (run.author === null || run.to <= run.from) continue;
          const a = model.getPositionAt(run.from);
          const b = model.getPositionAt(run.to);
          list.push({
            range: new monaco.Range(a.lineNumber, a.column, b.lineNumber, b.column),
            options: { inlineClassName: `duet-by-${authorClass(run.author, source.nameOf(run.author))}` },
          });
        }
      }
      let latest: AuthorCursor | undefined;
      for (const c of cursors) {
        if (c.doc !== 'main' || c.path !== current) continue;
        if (!latest || c.seq > latest.seq) latest = c;
        caretSpots.push({
          pos: model.getPositionAt(c.index),
          author: authorClass(c.author.sub, c.author.name),
          hover: `${c.author.name} (${c.author.role}) last edited here`,
        });
      }
      decorations.set(list);
      drawCarets();
      if (reveal && latest) editor.revealPositionInCenterIfOutsideViewport(model.getPositionAt(latest.index), monaco.editor.ScrollType.Immediate);
    },
    destroy() {
      decorations.clear();
      carets.clear();
      for (const model of models.values()) model.dispose();
      models.clear();
      editor.dispose();
      style.remove();
    },
  };
}
