/**
 * Runs across nodes. A run lives on the node that received `run:start`; its
 * events reach every node through the adapter, but stopping it, telling a
 * joiner about it, or refusing a second run of the same interview needs the
 * node that has it. With more than one node (REDIS_URL, or cluster workers)
 * the others are asked with Socket.IO's server-side emit; alone, nobody is.
 *
 * Asking is best effort: an unanswered node counts as "no run here" after
 * PEER_TIMEOUT_MS, and two `run:start`s of one interview on two nodes within
 * the same moment can both pass (docs/runner.md: the runner pool's Redis lock
 * closes that).
 */
import type { Actor, RunState } from '../../shared/protocol.js';
import type { ServerContext } from '../context.js';
import { peersOf } from './peers.js';
import { localRun, type RunInProgress } from './run-output.js';

const PEER_TIMEOUT_MS = 1500;

/** Asks every other node; resolves with the answers that came in time, and whether every node answered. */
function ask<T>(ctx: ServerContext, event: string, payload: unknown): Promise<{ answers: T[]; complete: boolean }> {
  const peers = peersOf(ctx);
  if (!peers) return Promise.resolve({ answers: [], complete: true });
  return new Promise((resolve) => {
    let done = false;
    const timer = setTimeout(() => finish([], false), PEER_TIMEOUT_MS);
    function finish(answers: T[], complete: boolean) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ answers, complete });
    }
    try {
      peers.serverSideEmit(event, payload, (err: unknown, answers: T[] | undefined) => finish(answers ?? [], !err));
    } catch (err) {
      ctx.log.warn({ err }, 'runner: could not ask the other nodes');
      finish([], false);
    }
  });
}

/**
 * The run of the interview on another node, if one answers, with its output
 * so far when asked for; `certain` is false when some node did not answer.
 */
export async function peerCurrentRun(
  ctx: ServerContext,
  interviewId: string,
  withOutput: boolean,
): Promise<{ run: RunInProgress | undefined; certain: boolean }> {
  const { answers, complete } = await ask<PeerAnswer | null>(ctx, 'duet:run:current', { interviewId, withOutput });
  const found = answers.find((a): a is PeerAnswer => a !== null && typeof a === 'object');
  if (!found) return { run: undefined, certain: complete };
  // The state with the output beside it: a node from before the output asks and answers with the state alone.
  const { output, ...state } = found;
  return { run: { state, output: Array.isArray(output) ? output : [] }, certain: true };
}

/** A node's answer about its run: the run's state, and its output if it was asked for. */
type PeerAnswer = RunState & { output?: RunInProgress['output'] };

/** Stops the run on whichever node has it; false when none does. */
export async function peerStopRun(ctx: ServerContext, runId: string, interviewId: string, by: Actor): Promise<boolean> {
  const { answers } = await ask<boolean>(ctx, 'duet:run:stop', { runId, interviewId, by });
  return answers.includes(true);
}

/** Answers the other nodes' questions about this node's runs. */
export function registerRunPeers(ctx: ServerContext): void {
  const peers = peersOf(ctx);
  if (!peers) return;
  peers.on('duet:run:current', (q: { interviewId: string; withOutput?: boolean }, reply: (a: PeerAnswer | null) => void) => {
    if (typeof reply !== 'function') return;
    const run = localRun(ctx, String(q?.interviewId));
    if (!run) return reply(null);
    // The input (up to 64 Ki characters) only for a joiner, who shows it with the output.
    const { stdin: _input, ...state } = run.state;
    reply(q?.withOutput === true ? { ...run.state, output: run.output } : state);
  });
  peers.on('duet:run:stop', (q: { runId: string; interviewId: string; by: Actor }, reply: (a: boolean) => void) => {
    if (typeof reply !== 'function') return;
    reply(ctx.runner.stop(String(q?.runId), String(q?.interviewId), q?.by));
  });
}
