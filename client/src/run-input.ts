/**
 * A run's standard input: the box those who may run fill in (sent with each
 * Run), and the input a run read, shown to everyone beside its output and in
 * the replay's Runs tab, so nobody wonders what the program was fed.
 */
import { LIMITS } from '../../shared/limits.js';
import { h } from './dom.js';

export interface RunInputBox {
  /** The "Input" button that shows or hides the box. */
  readonly toggle: HTMLButtonElement;
  readonly element: HTMLElement;
  /** What to send as stdin: undefined when the box is empty. */
  value(): string | undefined;
  setHidden(hidden: boolean): void;
}

/**
 * `shown()`: whether the panel around the box is open (a collapsed panel
 * hides the box too); `onOpen` opens it. `storageKey`: the tab's session
 * storage keeps the input there, so a reload does not lose it.
 */
export function createRunInputBox(storageKey: string, shown: () => boolean, onOpen: () => void): RunInputBox {
  const box = h('textarea', {
    class: 'run-stdin',
    rows: 3,
    maxlength: LIMITS.runStdinChars,
    spellcheck: 'false',
    placeholder: 'What the program reads on standard input, sent with each Run',
    'aria-label': 'Program input (stdin)',
    'data-testid': 'run-stdin',
  });
  const element = h('div', { class: 'run-stdin-box', id: 'run-stdin-box', hidden: true }, box);
  const toggle = h(
    'button',
    { type: 'button', class: 'button small ghost', 'aria-expanded': 'false', 'aria-controls': 'run-stdin-box', title: 'Standard input for the next runs', 'data-testid': 'run-input-toggle' },
    'Input',
  );
  // The button says when there is input, even with the box closed: a Run will send it.
  const mark = () => {
    toggle.classList.toggle('has-input', box.value !== '');
    toggle.setAttribute('aria-label', box.value === '' ? 'Input' : 'Input (has text)');
  };
  box.value = readStored(storageKey);
  mark();
  box.addEventListener('input', () => {
    mark();
    store(storageKey, box.value);
  });
  const setOpen = (open: boolean) => {
    element.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
  };
  toggle.addEventListener('click', () => {
    // Closed, or open inside a collapsed panel: either way the click is to see it.
    const open = element.hidden !== false || !shown();
    setOpen(open);
    if (open) {
      onOpen();
      box.focus();
    }
  });
  return {
    toggle,
    element,
    value: () => (box.value === '' ? undefined : box.value),
    setHidden(hidden) {
      toggle.hidden = hidden;
      if (hidden) setOpen(false);
    },
  };
}

// Storage can be full or refused (a privacy mode): the box then simply forgets on reload.
function readStored(key: string): string {
  try {
    return sessionStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function store(key: string, value: string): void {
  try {
    if (value === '') sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // not kept
  }
}

/** "Input (2 lines)", opening to the whole input. */
export function runInputUsed(stdin: string): HTMLElement {
  return h(
    'details',
    { class: 'run-input-used' },
    h('summary', {}, `Input (${linesOf(stdin)})`),
    h('pre', { class: 'run-stdin-text' }, stdin),
  );
}

/** "1 line", "3 lines": a final newline ends a line rather than starting one. */
export function linesOf(text: string): string {
  const lines = text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  return lines === 1 ? '1 line' : `${lines} lines`;
}
