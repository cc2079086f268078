/**
 * Code runs (docs/runner.md): a Run button for the file on screen, the
 * output streaming to everyone in the room, and for interviewers the switch
 * that lets the candidate run or not. The node enforces who may run; this
 * panel only hides the button from those it would refuse.
 */
import { isErrorBody } from '../../shared/errors.js';
import { LANGUAGES, type Language } from '../../shared/languages.js';
import { seqNotOlder } from '../../shared/interview-copies.js';
import type { Interview, RunExit, RunSettings, RunState } from '../../shared/protocol.js';
import type { DuetClientSocket } from '../../shared/provider.js';
import type { Role } from '../../shared/roles.js';
import { h } from './dom.js';
import { newestCopy } from './newest-copy.js';
import { createRunInputBox, runInputUsed } from './run-input.js';
import { createRunOutputView } from './run-output-view.js';

/** Runs are one at a time per interview: a few recent ones are plenty. */
const ENDED_RUNS_KEPT = 20;

export interface RunPanel {
  readonly element: HTMLElement;
  setInterview(interview: Interview): void;
  /** The languages the node runs (`session.runLanguages`); undefined when it does not say. */
  setRunLanguages(languages: readonly Language[] | undefined): void;
  /** Runs the file on screen (Ctrl+Enter in the editor). */
  run(): void;
}

export function createRunPanel(socket: DuetClientSocket, interviewId: string, role: Role, currentPath: () => string | undefined): RunPanel {
  const settings = newestCopy<RunSettings>(socket, { candidateMayRun: true, seq: 0 }, (current, next) => seqNotOlder(current.seq, next.seq));
  let ended = false;
  let current: RunState | undefined;
  /** The latest runs seen to end: a `run:state` of one of them is old news. */
  const endedRuns: string[] = [];
  const sawEnd = (runId: string) => {
    endedRuns.push(runId);
    if (endedRuns.length > ENDED_RUNS_KEPT) endedRuns.shift();
  };
  /** The run this connection last heard of: a `run:last` about another is older news. */
  let heardOf: string | undefined;
  /** When the run on screen started (or was first seen running), if known: a `run:last` of one started earlier is older news. */
  let shownSince: string | undefined;

  const runButton = h('button', { type: 'button', class: 'button primary small', 'data-testid': 'run', title: 'Run the file on screen (Ctrl+Enter)' }, '▶ Run');
  const stopButton = h('button', { type: 'button', class: 'button small', hidden: true }, '■ Stop');
  const idle = role === 'observer' ? 'Runs started by the interviewer or the candidate show here.' : 'Run the file on screen; everyone sees the output.';
  const status = h('span', { class: 'run-status', role: 'status', 'data-testid': 'run-status' }, idle);
  const allow = h('input', { type: 'checkbox', checked: true });
  const allowLabel = role === 'interviewer' ? h('label', { class: 'run-allow', title: 'Whether the candidate may press Run' }, allow, ' Candidate may run') : null;
  const output = createRunOutputView();
  const toggle = h('button', { type: 'button', class: 'icon-button', 'aria-expanded': 'false', title: 'Show or hide the output' }, '▴');
  const input = createRunInputBox(
    `duet.stdin:${interviewId}`,
    () => !element.classList.contains('collapsed'),
    () => setExpanded(true),
  );
  /** The input of the run on screen, if it read any. */
  const inputUsed = h('div', { class: 'run-input-slot', 'data-testid': 'run-input-used' });
  const element = h(
    'section',
    { class: 'run-panel collapsed', 'aria-label': 'Run' },
    h('div', { class: 'run-bar' }, runButton, stopButton, input.toggle, status, h('div', { class: 'spacer' }), allowLabel, toggle),
    input.element,
    inputUsed,
    output.element,
  );
  const showInput = (stdin: string | undefined) => inputUsed.replaceChildren(...(stdin ? [runInputUsed(stdin)] : []));

  const setExpanded = (open: boolean) => {
    element.classList.toggle('collapsed', !open);
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? '▾' : '▴';
  };
  toggle.addEventListener('click', () => setExpanded(element.classList.contains('collapsed')));

  let language: Language | undefined;
  let runLanguages: readonly Language[] | undefined;
  const runsHere = () => runLanguages === undefined || language === undefined || runLanguages.includes(language);
  /** Said while the interview's language is one the server does not run, instead of a Run that would only fail. */
  let noRunner: string | undefined;
  const mayRun = () => !ended && runsHere() && (role === 'interviewer' || (role === 'candidate' && settings.value.candidateMayRun));
  const render = () => {
    const nextNoRunner = runsHere() || !language ? undefined : `This server does not run ${LANGUAGES[language].label} code.`;
    if (nextNoRunner !== noRunner) {
      if (nextNoRunner && !current) status.textContent = nextNoRunner;
      else if (!nextNoRunner && status.textContent === noRunner) status.textContent = idle;
      noRunner = nextNoRunner;
    }
    runButton.hidden = !mayRun();
    input.setHidden(!mayRun());
    runButton.disabled = current !== undefined;
    stopButton.hidden = current === undefined || !(role === 'interviewer' || role === 'candidate');
    allow.checked = settings.value.candidateMayRun;
    allow.disabled = ended;
  };

  const startShowing = (runId: string, since?: string) => {
    if (output.runId === runId) {
      shownSince ??= since;
      return;
    }
    output.show(runId);
    shownSince = since;
    showInput(undefined);
    setExpanded(true);
  };

  function run(): void {
    if (!mayRun() || current) return;
    if (!socket.connected) {
      // Not queued for later: a run is started by a press, and nobody would expect it minutes on.
      status.textContent = 'Offline: the run did not start. Press Run again once you are connected.';
      return;
    }
    const path = currentPath();
    const stdin = input.value();
    runButton.disabled = true;
    status.textContent = 'Starting…';
    socket
      .timeout(15_000)
      .emitWithAck('run:start', { ...(path ? { path } : {}), ...(stdin !== undefined ? { stdin } : {}) })
      .then((reply) => {
        if (isErrorBody(reply)) throw new Error(reply.error.message);
        // Its own run is news to this page, whatever `run:last` comes late.
        heardOf = reply.runId;
        startShowing(reply.runId);
        showInput(stdin);
      })
      .catch((err: unknown) => {
        status.textContent = `Could not run: ${err instanceof Error ? err.message : 'no answer'}`;
        render();
      });
  }

  runButton.addEventListener('click', run);
  stopButton.addEventListener('click', () => {
    if (!current) return;
    void socket.timeout(10_000).emitWithAck('run:stop', { runId: current.runId }).catch(() => {});
  });
  allow.addEventListener('change', async () => {
    try {
      const reply = await socket.timeout(10_000).emitWithAck('run:settings', { candidateMayRun: allow.checked });
      if (isErrorBody(reply)) throw new Error(reply.error.message);
      settings.take(reply);
    } catch {
      allow.checked = settings.value.candidateMayRun;
    }
    render();
  });

  // The candidate is told when their Run button goes away or comes back, not left to wonder.
  let candidateMayRun = settings.value.candidateMayRun;
  const runsOff = 'The interviewer has turned off running code for you.';
  socket.on('run:settings', (next) => {
    settings.take(next);
    if (role === 'candidate' && settings.value.candidateMayRun !== candidateMayRun && !current) {
      if (!settings.value.candidateMayRun) status.textContent = runsOff;
      else if (status.textContent === runsOff) status.textContent = 'The interviewer has turned running code back on.';
    }
    candidateMayRun = settings.value.candidateMayRun;
    render();
  });
  socket.on('run:state', (state) => {
    heardOf = state.runId;
    // A joiner's state of a run another node was asked about can come after that run's exit.
    if (endedRuns.includes(state.runId)) return;
    current = state;
    startShowing(state.runId, state.at);
    showInput(state.stdin);
    status.textContent = `${state.state === 'queued' ? 'Queued' : 'Running'} ${state.path} (started by ${state.by.name})`;
    render();
  });
  socket.on('run:output', ({ runId, ...chunk }) => {
    heardOf = runId;
    // A late answer about a run that has ended must not replace the one on screen.
    if (runId !== output.runId && endedRuns.includes(runId)) return;
    startShowing(runId);
    output.add(chunk);
  });
  socket.on('run:exit', (exit) => {
    heardOf = exit.runId;
    sawEnd(exit.runId);
    if (exit.runId === output.runId || current?.runId === exit.runId) status.textContent = describeExit(exit, current);
    current = undefined;
    render();
  });
  // A joiner's (or a page back from a lost connection's) view of the last run, when none is in progress.
  socket.on('run:last', (record) => {
    // Older news than what the page shows: a run in progress, a run this
    // connection heard of since, or a run on screen that started after it
    // (the log's last run can be older: the newest one's record not yet
    // written, or never: a run cut off by a node's crash, or by an interview's end).
    if (current || (heardOf !== undefined && heardOf !== record.runId)) return;
    if (output.runId !== record.runId && shownSince !== undefined && shownSince > record.at) return;
    heardOf = record.runId;
    sawEnd(record.runId);
    startShowing(record.runId, record.at);
    showInput(record.stdin);
    for (const chunk of record.output) output.add(chunk);
    status.textContent = `Last run, by ${record.by.name}: ${describeExit(record.exit, record)}`;
    render();
  });
  // A run in progress when we lost the node ends without us hearing it: do not stay "running".
  socket.on('disconnect', () => {
    current = undefined;
    heardOf = undefined;
    render();
  });

  render();
  return {
    element,
    run,
    setInterview(interview) {
      ended = interview.status === 'ended';
      language = interview.language;
      render();
    },
    setRunLanguages(languages) {
      runLanguages = languages;
      render();
    },
  };
}

/** "main.py: exited with code 0 in 120 ms, 9.1 MB" (the replay page describes logged runs with it too). */
export function describeExit(exit: RunExit, state: Pick<RunState, 'path'> | undefined): string {
  const what = state ? `${state.path}: ` : '';
  const time = exit.durationMs >= 1000 ? `${(exit.durationMs / 1000).toFixed(1)} s` : `${exit.durationMs} ms`;
  const memory = exit.maxRssKb !== null ? `, ${(exit.maxRssKb / 1024).toFixed(1)} MB` : '';
  if (exit.error) return `${what}${exit.error.message}`;
  if (exit.stoppedBy) return `${what}stopped by ${exit.stoppedBy.name} after ${time}`;
  const how = exit.code !== null ? `exited with code ${exit.code}` : `killed by ${exit.signal ?? 'a signal'}`;
  return `${what}${how} in ${time}${memory}`;
}
