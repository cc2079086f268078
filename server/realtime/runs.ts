/**
 * Code runs over the wire: `run:start`, `run:stop`, `run:settings` in;
 * `run:state`, `run:output`, `run:exit`, `run:settings` out to the whole room
 * (observers included), through `io.to(room)` so the adapter carries them to
 * every node. Each finished run becomes one `run` event in the log (its output
 * is bounded by the runner's output limit), so a replay can show it.
 *
 * The candidate-runs setting lives in the event log (`run_settings` events,
 * the newest wins), so it survives restarts and every node reads the same one
 * without a schema change.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DuetError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { Actor, RunExit, RunSettings, RunState } from '../../shared/protocol.js';
import { can } from '../../shared/roles.js';
import { runSettingsSchema, runStartSchema, runStopSchema, type RunStartRequest } from '../../shared/schemas.js';
import { randomId } from '../auth.js';
import { channelOf, type ServerContext } from '../context.js';
import { filesOf } from '../rooms/yjs-checks.js';
import type { RunResult } from '../runner/runner.js';
import { isRunnablePath } from '../runner/workspace.js';
import { handler, type Handlers } from './handle.js';
import { localRun, runRecordOf, type OutputChunk, type RunInProgress } from './run-output.js';
import { peerCurrentRun, peerStopRun } from './run-peers.js';
import type { DuetSocket } from './socket-data.js';
import { chargeRunOutput, spendRunInput, takeRunStart } from './person-budgets.js';

const DEFAULT_SETTINGS: RunSettings = { candidateMayRun: true, seq: 0 };
/** How long an end waits for the record of the run it stopped: written as the killed process exits, in milliseconds. */
const STOPPED_RUN_RECORD_WAIT_MS = 3000;

/** The newest `run_settings` event of the interview, or the default. */
export async function readRunSettings(ctx: ServerContext, interviewId: string): Promise<RunSettings> {
  const e = await ctx.store.latestEvent(interviewId, 'run_settings');
  return e ? { candidateMayRun: e.data.candidateMayRun !== false, seq: e.seq } : DEFAULT_SETTINGS;
}

/**
 * For a joiner: the setting; then the run in progress (its state and its
 * output so far), wherever it runs, or else the last finished run.
 */
export async function sendRunnerState(ctx: ServerContext, socket: DuetSocket): Promise<void> {
  const { interviewId } = socket.data;
  const sendRun = (run: RunInProgress) => {
    socket.emit('run:state', run.state);
    for (const chunk of run.output) socket.emit('run:output', { runId: run.state.runId, ...chunk });
  };
  // This node's run is sent at once, before any read: the socket is in the
  // channels already, so whatever the run does next reaches it as broadcasts,
  // and nothing sent here is older than those.
  const local = localRun(ctx, interviewId);
  if (local) sendRun(local);
  socket.emit('run:settings', await readRunSettings(ctx, interviewId));
  if (local) return;
  const { run, certain } = await peerCurrentRun(ctx, interviewId, true);
  if (run) return sendRun(run);
  // A node that did not answer may have a run: then the log's last one is not the last.
  if (!certain) return;
  const last = await ctx.store.latestEvent(interviewId, 'run');
  const record = last && runRecordOf(last);
  if (record) socket.emit('run:last', record);
}

/** The interview's run in progress (queued or running), on this node (`here`) or another. */
async function runAnywhere(ctx: ServerContext, interviewId: string): Promise<{ state: RunState; here: boolean } | undefined> {
  const job = ctx.runner.current(interviewId);
  if (job) return { state: job.state, here: true };
  const { run } = await peerCurrentRun(ctx, interviewId, false);
  return run && { state: run.state, here: false };
}

async function stopAnywhere(ctx: ServerContext, interviewId: string, run: { state: RunState; here: boolean }, by: Actor): Promise<void> {
  // Not stopped: it ended on its own meanwhile, and its record is on its way just the same.
  if (run.here) ctx.runner.stop(run.state.runId, interviewId, by);
  else await peerStopRun(ctx, run.state.runId, interviewId, by);
}

/**
 * Before an interview ends: stops its run, on whichever node has it, and
 * waits until the run is in the log (STOPPED_RUN_RECORD_WAIT_MS in all, the
 * other nodes' answers included). After the `end` the log takes nothing
 * more, so a run still going when someone ended the interview would
 * otherwise be missing from the replay. Never fails: the end goes on.
 */
export async function stopRunBeforeEnd(ctx: ServerContext, interviewId: string, by: Actor): Promise<void> {
  const deadline = Date.now() + STOPPED_RUN_RECORD_WAIT_MS;
  try {
    const run = await runAnywhere(ctx, interviewId);
    if (!run) return;
    await stopAnywhere(ctx, interviewId, run, by);
    while ((await ctx.store.latestEvent(interviewId, 'run'))?.data.runId !== run.state.runId) {
      if (Date.now() > deadline) {
        ctx.log.warn({ interviewId, runId: run.state.runId }, 'the run stopped by the end was not logged in time; ending without it');
        return;
      }
      await sleep(20);
    }
  } catch (err) {
    ctx.log.warn({ err, interviewId }, 'could not stop the run before the end; ending anyway');
  }
}

/**
 * Once the interview is over, its run stops, on whichever node has it. After
 * an end: one started while the end waited (its record is refused, as the log
 * takes nothing after the end). After a delete: the run no one is left to
 * see, its record with nowhere to go. Not awaited by either.
 */
export function stopRunAfterEnd(ctx: ServerContext, interviewId: string, by: Actor): void {
  runAnywhere(ctx, interviewId)
    .then((run) => run && stopAnywhere(ctx, interviewId, run, by))
    .catch((err: unknown) => ctx.log.warn({ err, interviewId }, 'could not stop the run of an interview that is over'));
}

export function runHandlers(ctx: ServerContext): Handlers {
  return {
    'run:start': handler(runStartSchema, (socket, payload) => startRun(ctx, socket, payload)),

    'run:stop': handler(runStopSchema, async (socket, { runId }) => {
      const { actor, interviewId } = socket.data;
      if (!can.stopRun(actor.role)) throw new DuetError('forbidden', `the ${actor.role} role cannot stop runs`);
      if (!ctx.runner.stop(runId, interviewId, actor) && !(await peerStopRun(ctx, runId, interviewId, actor))) {
        throw new DuetError('not_found', 'no such run in progress');
      }
      return { ok: true };
    }),

    'run:settings': handler(runSettingsSchema, async (socket, { candidateMayRun }) => {
      const { actor, interviewId } = socket.data;
      if (!can.manageRuns(actor.role)) throw new DuetError('forbidden', 'only interviewers change who may run code');
      const at = new Date().toISOString();
      const { event } = await ctx.writer.append(interviewId, { type: 'run_settings', at, actor, data: { candidateMayRun } });
      const settings: RunSettings = { candidateMayRun, seq: event.seq };
      ctx.io.to(channelOf.all(interviewId)).emit('run:settings', settings);
      return settings;
    }),
  };
}

async function startRun(ctx: ServerContext, socket: DuetSocket, { path, stdin }: RunStartRequest): Promise<{ runId: string }> {
  const { actor, interviewId } = socket.data;
  const live = await socket.data.room;
  takeRunStart(live, socket);
  const room = channelOf.all(interviewId);
  const interview = await ctx.store.getInterview(interviewId);
  if (!interview) throw new DuetError('not_found', 'no such interview');
  if (interview.status !== 'open') throw new DuetError('interview_ended', 'the interview has ended');
  const settings = await readRunSettings(ctx, interviewId);
  if (!can.startRun(actor.role, settings.candidateMayRun)) {
    throw new DuetError(
      'forbidden',
      actor.role === 'candidate' ? 'an interviewer has turned off runs for the candidate' : `the ${actor.role} role cannot run code`,
    );
  }
  // Edits other nodes committed are in the log; run what everyone sees.
  await live.catchUp();
  const files = filesOf(live.doc('main'));
  const target = path ?? Object.keys(files).sort()[0];
  if (target === undefined || !(target in files)) throw new DuetError('not_found', `no file "${path ?? ''}" to run`);
  if (!isRunnablePath(target)) throw new DuetError('invalid_payload', `"${target}" is not a path the runner accepts`);

  // One here is refused by the runner itself.
  if ((await runAnywhere(ctx, interviewId))?.here === false) {
    throw new DuetError('runner_busy', 'a run of this interview is already queued or running; stop it or wait');
  }

  const logged = loggedCode(files);
  spendRunInput(ctx.config, live, socket, ('files' in logged ? logged.chars : 0) + (stdin?.length ?? 0));

  const runId = randomId();
  const startedAt = new Date().toISOString();
  const state: RunState = { runId, state: 'queued', path: target, language: interview.language, by: actor, at: startedAt, ...(stdin ? { stdin } : {}) };
  const output: OutputChunk[] = [];
  /** Characters of output so far: each chunk's offset, so a joiner sent the output so far can place the chunks it also hears. */
  let written = 0;
  let runningSince = Date.now();
  // Room events wait for the ack, so the requester learns its runId before anything about the run.
  let release!: () => void;
  const acked = new Promise<void>((r) => (release = r));
  const toRoom = (emit: () => void) => void acked.then(emit);

  const { queued } = await ctx.runner.submit({
    runId,
    interviewId,
    language: interview.language,
    files,
    path: target,
    stdin,
    state,
    output,
    onStart() {
      runningSince = Date.now();
      const running: RunState = { ...state, state: 'running', at: new Date().toISOString() };
      state.state = 'running';
      state.at = running.at;
      toRoom(() => ctx.io.to(room).emit('run:state', running));
    },
    onOutput(stream, data) {
      output.push({ stream, data, ms: Date.now() - runningSince });
      const offset = written;
      written += data.length;
      toRoom(() => ctx.io.to(room).emit('run:output', { runId, stream, data, offset }));
    },
    onExit(result, stoppedBy) {
      ctx.metrics.runs.inc({ outcome: result.reason });
      const exit = exitOf(runId, result, stoppedBy);
      toRoom(() => ctx.io.to(room).emit('run:exit', exit));
      // The code as it was read for this run: the candidate may have typed
      // on while it ran, so the replay's text at the run's event is not it.
      chargeRunOutput(ctx.config, live, socket, written);
      void recordRun(ctx, interviewId, actor, { ...exit, path: target, language: interview.language, stdin, startedAt, output, ...('files' in logged ? { files: logged.files } : logged) });
    },
  });
  // The interview may have ended while this run was being set up, after that
  // end looked for a run to stop: nobody hears of this one.
  if ((await ctx.store.getInterview(interviewId))?.status !== 'open') {
    ctx.runner.stop(runId, interviewId);
    throw new DuetError('interview_ended', 'the interview has ended');
  }
  if (queued) toRoom(() => ctx.io.to(room).emit('run:state', { ...state, state: 'queued' }));
  setImmediate(release);
  return { runId };
}

function exitOf(runId: string, r: RunResult, stoppedBy: Actor | undefined): RunExit {
  return {
    runId,
    code: r.code,
    signal: r.signal,
    durationMs: r.durationMs,
    maxRssKb: r.maxRssKb,
    truncated: r.truncated,
    ...(r.error ? { error: r.error.toBody().error } : {}),
    ...(stoppedBy ? { stoppedBy } : {}),
  };
}

/** The run's files (and their size), or only their size when they are more than a run's event keeps. */
function loggedCode(files: Record<string, string>): { files: Record<string, string>; chars: number } | { codeChars: number } {
  const chars = Object.values(files).reduce((n, text) => n + text.length, 0);
  return chars <= LIMITS.runCodeLoggedChars ? { files, chars } : { codeChars: chars };
}

async function recordRun(ctx: ServerContext, interviewId: string, actor: Actor, data: Record<string, unknown>): Promise<void> {
  try {
    await ctx.writer.append(interviewId, { type: 'run', at: new Date().toISOString(), actor, data });
  } catch (err) {
    // An interview that ended (or was deleted) mid-run logs nothing more; anything else is worth a line.
    if (!(err instanceof DuetError && (err.code === 'interview_ended' || err.code === 'not_found'))) ctx.log.error({ err, interviewId }, 'could not log a run');
  }
}
