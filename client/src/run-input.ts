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

export function createRunInputBox(onOpen: () => void): RunInputBox {
  const box = h('textarea', {
    class: 'run-stdin',
    rows: 3,
    maxlength: LIMITS.runStdinChars,
    spellcheck: 'false',
    placeholder: 'What the program reads on standard input, sent with each Run',
    'aria-label': 'Program input (stdin)',
    'data-testid': 'run-stdin',
  });
  const element = h('div', { class: 'run-stdin-box', hidden: true }, box);
  const toggle = h('button', { type: 'button', class: 'button small ghost', 'aria-expanded': 'false', title: 'Standard input for the next runs', 'data-testid': 'run-input-toggle' }, 'Input');
  // The button says when there is input, even with the box closed: a Run will send it.
  const mark = () => toggle.classList.toggle('has-input', box.value !== '');
  box.addEventListener('input', mark);
  toggle.addEventListener('click', () => {
    const open = element.hidden;
    element.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
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
      if (hidden) element.hidden = true;
    },
  };
}

/** "Input (2 lines)", opening to the whole input. */
export function runInputUsed(stdin: string): HTMLElement {
  const lines = stdin.split('\n').length - (stdin.endsWith('\n') ? 1 : 0);
  return h(
    'details',
    { class: 'run-input-used' },
    h('summary', {}, `Input (${lines === 1 ? '1 line' : `${lines} lines`})`),
    h('pre', { class: 'run-stdin-text' }, stdin),
  );
}
