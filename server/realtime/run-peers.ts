/**
 * Runs across nodes. A run lives on the node that received `run:start`; its
 * events reach every node through the adapter, but stopping it, telling a
 * joiner about it, or refusing a second run of the same interview needs the
 * node that has it. With more than one node (REDIS_URL, or cluster workers)
 * the others are asked with Socket.IO's server-side emit; alone, nobody is.
 *
 * Each node's answer counts as it comes: the node that has the run settles
 * the question at once, whatever the others do. Only "no run here" needs
 * every node's answer: a node that has not answered after PEER_TIMEOUT_MS
 * (stuck, or gone and not yet dropped by the adapter) leaves it uncertain.
 * Two `run:start`s of one interview on two nodes within the same moment can
 * both pass (docs/runner.md: the runner pool's Redis lock would close that).
 */
import type { Actor, RunState } from '../../shared/protocol.js';
import type { ServerContext } from '../context.js';
import { localRun, type RunInProgress } from './run-output.js';

const PEER_TIMEOUT_MS = 1500;
const CURRENT = 'duet:run:current';
const STOP = 'duet:run:stop';

/**
 * The run of the interview on another node, if one answers, with its output
 * so far when asked for; `certain` is false when some node did not answer.
 */
export async function peerCurrentRun(
  ctx: ServerContext,
  interviewId: string,
  withOutput: boolean,
): Promise<{ run: RunInProgress | undefined; certain: boolean }> {
  if (!ctx.peers) return { run: undefined, certain: true };
  const isRun = (a: PeerAnswer | null): a is PeerAnswer => typeof a === 'object' && a !== null && typeof a.runId === 'string';
  const { answers, complete } = await ctx.peers.ask<PeerAnswer | null>(CURRENT, { interviewId, withOutput }, { timeoutMs: PEER_TIMEOUT_MS, settles: isRun });
  const found = answers.find(isRun);
  if (!found) return { run: undefined, certain: complete };
  // The state with the output beside it.
  const { output, ...state } = found;
  return { run: { state, output: Array.isArray(output) ? output : [] }, certain: true };
}

/** A node's answer about its run: the run's state, and its output if it was asked for. */
type PeerAnswer = RunState & { output?: RunInProgress['output'] };

/** Stops the run on whichever node has it; false when none does. */
export async function peerStopRun(ctx: ServerContext, runId: string, interviewId: string, by: Actor): Promise<boolean> {
  if (!ctx.peers) return false;
  const { answers } = await ctx.peers.ask<boolean>(STOP, { runId, interviewId, by }, { timeoutMs: PEER_TIMEOUT_MS, settles: (stopped) => stopped === true });
  return answers.includes(true);
}

/** Answers the other nodes' questions about this node's runs. */
export function registerRunPeers(ctx: ServerContext): void {
  const { peers } = ctx;
  if (!peers) return;
  const current = (q: { interviewId?: unknown; withOutput?: unknown } | undefined): PeerAnswer | null => {
    const run = localRun(ctx, String(q?.interviewId));
    if (!run) return null;
    // The input (up to 64 Ki characters) only for a joiner, who shows it with the output.
    const { stdin: _input, ...state } = run.state;
    return q?.withOutput === true ? { ...run.state, output: run.output } : state;
  };
  const stop = (q: { runId?: unknown; interviewId?: unknown; by?: Actor } | undefined): boolean =>
    ctx.runner.stop(String(q?.runId), String(q?.interviewId), q?.by);
  peers.answer(CURRENT, (q) => current(q as Parameters<typeof current>[0]));
  peers.answer(STOP, (q) => stop(q as Parameters<typeof stop>[0]));
  // Nodes from before the answers above ask with the adapter's acknowledgement.
  peers.io.on(CURRENT, (q: Parameters<typeof current>[0], reply: unknown) => typeof reply === 'function' && reply(current(q)));
  peers.io.on(STOP, (q: Parameters<typeof stop>[0], reply: unknown) => typeof reply === 'function' && reply(stop(q)));
}
