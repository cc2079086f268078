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

/** Asks every other node; resolves with the answers that came in time. */
function ask<T>(ctx: ServerContext, event: string, payload: unknown): Promise<T[]> {
  const peers = peersOf(ctx);
  if (!peers) return Promise.resolve([]);
  return new Promise((resolve) => {
    let done = false;
    const timer = setTimeout(() => finish([]), PEER_TIMEOUT_MS);
    function finish(answers: T[]) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(answers);
    }
    try {
      peers.serverSideEmit(event, payload, (_err: unknown, answers: T[] | undefined) => finish(answers ?? []));
    } catch (err) {
      ctx.log.warn({ err }, 'runner: could not ask the other nodes');
      finish([]);
    }
  });
}

/** The run of the interview on another node, if any answers. */
export async function peerCurrentRun(ctx: ServerContext, interviewId: string): Promise<RunInProgress | undefined> {
  const answers = await ask<RunInProgress | RunState | null>(ctx, 'duet:run:current', { interviewId });
  const found = answers.find((a) => a !== null && typeof a === 'object');
  if (!found) return undefined;
  // A node from before the output was sent answers with the state alone.
  return 'state' in found && typeof found.state === 'object' ? found : { state: found as RunState, output: [] };
}

/** Stops the run on whichever node has it; false when none does. */
export async function peerStopRun(ctx: ServerContext, runId: string, interviewId: string, by: Actor): Promise<boolean> {
  const answers = await ask<boolean>(ctx, 'duet:run:stop', { runId, interviewId, by });
  return answers.includes(true);
}

/** Answers the other nodes' questions about this node's runs. */
export function registerRunPeers(ctx: ServerContext): void {
  const peers = peersOf(ctx);
  if (!peers) return;
  peers.on('duet:run:current', (q: { interviewId: string }, reply: (a: RunInProgress | null) => void) => {
    if (typeof reply !== 'function') return;
    reply(localRun(ctx, String(q?.interviewId)) ?? null);
  });
  peers.on('duet:run:stop', (q: { runId: string; interviewId: string; by: Actor }, reply: (a: boolean) => void) => {
    if (typeof reply !== 'function') return;
    reply(ctx.runner.stop(String(q?.runId), String(q?.interviewId), q?.by));
  });
}
