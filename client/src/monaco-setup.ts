/**
 * The parts of Monaco Duet uses, and nothing else (GOTCHAS 1-2): the bare
 * editor API, the editing contributions people reach for in an interview,
 * and the syntax colouring of the interview languages. No language services
 * (the TypeScript worker alone is ~7 MB): an interview editor needs colours,
 * brackets and find, not IntelliSense.
 */
import * as monaco from 'monaco-editor/editor/editor.api.js';
import EditorWorker from 'monaco-editor/editor/editor.worker.js?worker';

// Monaco 0.57's per-feature entry points (each pulls in its own CSS).
import 'monaco-editor/features/bracketMatching/register.js';
import 'monaco-editor/features/caretOperations/register.js';
import 'monaco-editor/features/clipboard/register.js';
import 'monaco-editor/features/codicon/register.js';
import 'monaco-editor/features/comment/register.js';
import 'monaco-editor/features/contextmenu/register.js';
import 'monaco-editor/features/cursorUndo/register.js';
import 'monaco-editor/features/find/register.js';
import 'monaco-editor/features/folding/register.js';
import 'monaco-editor/features/hover/register.js';
import 'monaco-editor/features/indentation/register.js';
import 'monaco-editor/features/linesOperations/register.js';
import 'monaco-editor/features/multicursor/register.js';
import 'monaco-editor/features/readOnlyMessage/register.js';
import 'monaco-editor/features/smartSelect/register.js';
import 'monaco-editor/features/suggest/register.js';
// Ctrl+M: Tab moves focus out of the editor instead of indenting (keyboard users).
import 'monaco-editor/features/toggleTabFocusMode/register.js';
import 'monaco-editor/features/wordHighlighter/register.js';
import 'monaco-editor/features/wordOperations/register.js';

// Syntax colouring for shared/languages.ts; each tokenizer loads lazily on first use.
import 'monaco-editor/languages/definitions/cpp/register.js';
import 'monaco-editor/languages/definitions/csharp/register.js';
import 'monaco-editor/languages/definitions/go/register.js';
import 'monaco-editor/languages/definitions/java/register.js';
import 'monaco-editor/languages/definitions/javascript/register.js';
import 'monaco-editor/languages/definitions/kotlin/register.js';
import 'monaco-editor/languages/definitions/php/register.js';
import 'monaco-editor/languages/definitions/python/register.js';
import 'monaco-editor/languages/definitions/ruby/register.js';
import 'monaco-editor/languages/definitions/rust/register.js';
import 'monaco-editor/languages/definitions/shell/register.js';
import 'monaco-editor/languages/definitions/sql/register.js';
import 'monaco-editor/languages/definitions/typescript/register.js';

declare global {
  interface Window {
    MonacoEnvironment?: { getWorker(workerId: string, label: string): Worker };
  }
}

// Only the editor worker is bundled: no language service is loaded, so every
// label maps to it. Returning undefined would break Monaco (GOTCHAS 2).
self.MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    switch (label) {
      case 'editorWorkerService':
      default:
        return new EditorWorker({ name: label });
    }
  },
};

const dark = window.matchMedia('(prefers-color-scheme: dark)');
export function monacoTheme(): string {
  return dark.matches ? 'vs-dark' : 'vs';
}
dark.addEventListener('change', () => monaco.editor.setTheme(monacoTheme()));

/** The Monaco language for an interview language; one this build does not colour shows as plain text. */
export function monacoLanguage(id: string): string {
  return monaco.languages.getLanguages().some((l) => l.id === id) ? id : 'plaintext';
}

export { monaco };
