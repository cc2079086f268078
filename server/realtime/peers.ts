/**
 * The other nodes of this deployment, reached with Socket.IO's server-side
 * emit through the adapter (Redis, or the cluster's primary). A lone node
 * (no REDIS_URL, one worker) has none.
 *
 * Questions are asked and answered as two plain broadcasts rather than with
 * the adapter's acknowledgement: the adapters hand over the answers only all
 * together, once every node has answered or at their own timeout (5 s, fixed
 * in the sharded and cluster adapters), so one node that is stuck or gone
 * (until the adapter stops counting it) hid the answers of all the others.
 * Here each answer counts as it comes, and one that settles the question
 * ends the wait at once. The cost: a server-side emit cannot go to one node,
 * so every node hears every answer, (N - 1)² deliveries a question for N
 * nodes, where the adapters sent answers to the asker alone; small for the
 * few nodes a deployment of interviews runs. Nodes from before this protocol
 * answer none of it (docs/deploy.md, upgrading).
 */
import type { Logger } from 'pino';
import { randomId } from '../auth.js';
import type { DuetIO } from '../context.js';

const ASK = 'duet:ask';
const ANSWER = 'duet:answer';

export interface PeerIO {
  on(event: string, listener: (...args: any[]) => void): void;
  serverSideEmit(event: string, ...args: unknown[]): boolean;
}

export interface AskResult<T> {
  answers: T[];
  /** Every node counted when the question was asked answered, or an answer settled it. */
  complete: boolean;
}

export interface Peers {
  /** Tells every other node; nothing comes back. */
  tell(event: string, payload: unknown): void;
  /** Hears what other nodes `tell`. */
  on(event: string, listener: (payload: unknown) => void): void;
  /**
   * Asks every other node. Resolves once each has answered, as soon as an
   * answer `settles` it, or after `timeoutMs` with the answers so far.
   */
  ask<T>(question: string, payload: unknown, options: { timeoutMs: number; settles?: (answer: T) => boolean }): Promise<AskResult<T>>;
  /** Answers the other nodes' `question`s; a throw or rejection is logged and sends no answer. */
  answer(question: string, answerer: (payload: unknown) => unknown): void;
  /** The underlying emitter, for the events older nodes ask with an acknowledgement. */
  io: PeerIO;
}

interface Pending {
  answers: unknown[];
  /** Nodes expected to answer; unknown until the adapter has counted them. */
  expected: number | undefined;
  settles: ((answer: unknown) => boolean) | undefined;
  finish(complete: boolean): void;
}

export function createPeers(io: DuetIO, log: Logger): Peers {
  const peerIO = io as unknown as PeerIO;
  const pending = new Map<string, Pending>();
  const answerers = new Map<string, (payload: unknown) => unknown>();

  const emit = (event: string, payload: unknown) => {
    try {
      peerIO.serverSideEmit(event, payload);
    } catch (err) {
      // Defensive: a failed publish is the adapter's to handle (server/adapter.ts).
      log.warn({ err, event }, 'could not reach the other nodes');
    }
  };

  peerIO.on(ASK, (q: { id?: unknown; question?: unknown; payload?: unknown }) => {
    const answerer = typeof q?.question === 'string' ? answerers.get(q.question) : undefined;
    if (!answerer || typeof q.id !== 'string') return;
    const id = q.id;
    Promise.resolve()
      .then(() => answerer(q.payload))
      .then(
        (answer) => emit(ANSWER, { id, answer: answer ?? null }),
        (err: unknown) => log.warn({ err, question: q.question }, 'could not answer another node'),
      );
  });

  peerIO.on(ANSWER, (a: { id?: unknown; answer?: unknown }) => {
    // Every node hears every answer; only the asker has the question open.
    const p = typeof a?.id === 'string' ? pending.get(a.id) : undefined;
    if (!p) return;
    p.answers.push(a.answer);
    if (p.settles?.(a.answer)) p.finish(true);
    else if (p.expected !== undefined && p.answers.length >= p.expected) p.finish(true);
  });

  return {
    io: peerIO,
    tell: emit,
    on: (event, listener) => peerIO.on(event, listener),
    answer(question, answerer) {
      answerers.set(question, answerer);
    },
    ask<T>(question: string, payload: unknown, options: { timeoutMs: number; settles?: (answer: T) => boolean }) {
      return new Promise<AskResult<T>>((resolve) => {
        const id = randomId();
        const timer = setTimeout(() => p.finish(false), options.timeoutMs);
        timer.unref();
        const p: Pending = {
          answers: [],
          expected: undefined,
          settles: options.settles as Pending['settles'],
          finish(complete) {
            if (!pending.delete(id)) return;
            clearTimeout(timer);
            resolve({ answers: p.answers as T[], complete });
          },
        };
        pending.set(id, p);
        emit(ASK, { id, question, payload });
        // A node that starts or stops while the question is out can put the
        // count one off: the question then ends early, or waits out its time.
        io.of('/')
          .adapter.serverCount()
          .then(
            (nodes) => {
              p.expected = nodes - 1;
              if (p.answers.length >= p.expected) p.finish(true);
            },
            (err: unknown) => log.warn({ err }, 'could not count the other nodes'),
          );
      });
    },
  };
}
