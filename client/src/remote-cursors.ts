/**
 * Cursors and selections over y-protocols awareness. y-monaco's own awareness
 * support only shares the primary selection and knows nothing of files, so
 * Duet publishes every selection (multi-cursor included) with the file it is
 * in, and draws every remote participant's selections itself.
 *
 * Local state on the `main` awareness:
 *   user:   {sub, name, role, color}
 *   cursor: {file, selections: [{anchor, head}]} (Yjs relative positions, JSON) or null
 */
import type { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { LIMITS } from '../../shared/limits.js';
import { caretLabels, roomAboveIn } from './caret-labels.js';
import { monaco } from './monaco-setup.js';

export interface AwarenessUser {
  sub: string;
  name: string;
  role: string;
  color: string;
}

interface WireSelection {
  anchor: unknown;
  head: unknown;
}

interface CursorState {
  file: string;
  selections: WireSelection[];
}

interface PeerState {
  user?: AwarenessUser;
  cursor?: CursorState | null;
}

/** Publishes the local editor's selections for the file it shows. */
export function publishCursor(awareness: Awareness, file: string, text: Y.Text, selections: monaco.Selection[], model: monaco.editor.ITextModel): void {
  // The node refuses a state with more than LIMITS.cursorSelections: others see the first ones.
  const wire = selections.slice(0, LIMITS.cursorSelections).map((sel) => {
    const anchor = model.getOffsetAt(sel.getSelectionStart());
    const head = model.getOffsetAt(sel.getPosition());
    return {
      anchor: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, anchor)),
      head: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, head)),
    };
  });
  awareness.setLocalStateField('cursor', { file, selections: wire });
}

/** Who is where: `file` per clientID, for the tabs and the participants list. */
export function peersByFile(awareness: Awareness): Map<string, AwarenessUser[]> {
  const byFile = new Map<string, AwarenessUser[]>();
  for (const [id, state] of awareness.getStates() as Map<number, PeerState>) {
    if (id === awareness.clientID || !state.user || !state.cursor) continue;
    const list = byFile.get(state.cursor.file) ?? [];
    list.push(state.user);
    byFile.set(state.cursor.file, list);
  }
  return byFile;
}

/**
 * Draws everyone else's selections on `editor` for the file it shows.
 * `current()` says which file and Y.Text that is.
 */
export class RemoteCursors {
  private readonly decorations: monaco.editor.IEditorDecorationsCollection;
  private readonly style = document.createElement('style');
  private readonly styled = new Map<number, { color: string; label: string }>();
  private frame = 0;
  private readonly scrolled: monaco.IDisposable;

  constructor(
    private readonly editor: monaco.editor.IStandaloneCodeEditor,
    private readonly doc: Y.Doc,
    private readonly awareness: Awareness,
    private readonly current: () => { file: string; text: Y.Text } | undefined,
  ) {
    this.decorations = editor.createDecorationsCollection();
    document.head.append(this.style);
    awareness.on('change', this.schedule);
    doc.on('afterTransaction', this.schedule);
    // Whether a name fits above its caret depends on how far the editor is scrolled.
    this.scrolled = editor.onDidScrollChange((e) => {
      if (e.scrollTopChanged) this.schedule();
    });
  }

  /** Coalesces bursts of remote edits and cursor moves into one redraw per frame. */
  readonly schedule = (): void => {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  };

  render(): void {
    const cur = this.current();
    const model = this.editor.getModel();
    if (!cur || !model) {
      this.decorations.clear();
      return;
    }
    const decorations: monaco.editor.IModelDeltaDecoration[] = [];
    const label = caretLabels(roomAboveIn(this.editor));
    for (const [id, state] of this.awareness.getStates() as Map<number, PeerState>) {
      if (id === this.doc.clientID || !state.user || state.cursor?.file !== cur.file) continue;
      this.ensureStyle(id, state.user);
      state.cursor.selections.forEach((sel, i) => {
        const anchor = this.absolute(sel.anchor, cur.text);
        const head = this.absolute(sel.head, cur.text);
        if (anchor === null || head === null) return;
        const headPos = model.getPositionAt(head);
        if (anchor !== head) {
          const a = model.getPositionAt(Math.min(anchor, head));
          const b = model.getPositionAt(Math.max(anchor, head));
          decorations.push({
            range: new monaco.Range(a.lineNumber, a.column, b.lineNumber, b.column),
            options: { className: `duet-sel duet-sel-${id}`, stickiness: 1 },
          });
        }
        decorations.push({
          range: new monaco.Range(headPos.lineNumber, headPos.column, headPos.lineNumber, headPos.column),
          options: {
            // The name rides on the primary cursor only, so multi-cursor edits stay readable.
            beforeContentClassName: `duet-head duet-head-${id}${i === 0 ? ` ${label(headPos.lineNumber, headPos.column)}` : ''}`,
            hoverMessage: { value: state.user!.name },
            stickiness: 1,
          },
        });
      });
    }
    this.decorations.set(decorations);
  }

  private absolute(json: unknown, text: Y.Text): number | null {
    try {
      const pos = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(json), this.doc);
      return pos && pos.type === text ? Math.min(pos.index, text.length) : null;
    } catch {
      return null; // a malformed peer state must not break our editor
    }
  }

  /** One CSS rule set per remote client: its colour, and its name on the caret. */
  private ensureStyle(id: number, user: AwarenessUser): void {
    const color = /^#[0-9a-f]{6}$/i.test(user.color) ? user.color : '#888888';
    const label = JSON.stringify(`${user.name}`.replace(/[\u0000-\u001f\\]/g, ' ').slice(0, 40));
    const prev = this.styled.get(id);
    if (prev?.color === color && prev.label === label) return;
    this.styled.set(id, { color, label });
    const rules = [...this.styled.entries()].map(
      ([cid, { color: c, label: l }]) =>
        `.duet-sel-${cid}{background-color:${c}33;}` +
        `.duet-head-${cid}{border-left:2px solid ${c};}` +
        `.duet-head-${cid}.duet-label::after{content:${l};background:${c};}`,
    );
    this.style.textContent = rules.join('\n');
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.awareness.off('change', this.schedule);
    this.doc.off('afterTransaction', this.schedule);
    this.scrolled.dispose();
    this.decorations.clear();
    this.style.remove();
  }
}
