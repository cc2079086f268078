/** What every part of one node shares; built by createServer, never global. */
import type { Logger } from 'pino';
import type { Server as IOServer } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/protocol.js';
import type { TokenService } from './auth.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';
import type { EventWriter } from './rooms/event-writer.js';
import type { RoomRegistry } from './rooms/room-registry.js';
import type { Peers } from './realtime/peers.js';
import type { FinalFiles } from './replay/final-files.js';
import type { Runner } from './runner/runner.js';
import type { Store } from './store/store.js';
import type { SocketData } from './realtime/socket-data.js';

export type DuetIO = IOServer<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface ServerContext {
  config: Config;
  store: Store;
  tokens: TokenService;
  writer: EventWriter;
  rooms: RoomRegistry;
  metrics: Metrics;
  log: Logger;
  io: DuetIO;
  /** Interviews' final files for GET /document and files.zip, kept between calls. */
  finalFiles: FinalFiles;
  /** Code runs on this node (server/runner/). */
  runner: Runner;
  /** The other nodes (server/realtime/peers.ts); none for a lone node (no REDIS_URL, one worker). */
  peers: Peers | undefined;
}

/** Socket.IO rooms: everyone live in an interview, and its panel (interviewers and observers). */
export const channelOf = {
  all: (interviewId: string) => `i:${interviewId}`,
  panel: (interviewId: string) => `p:${interviewId}`,
};

/** This node's own sockets in an interview, copied: dropping one while iterating does not skip another. */
export function socketsHere(ctx: ServerContext, interviewId: string) {
  const ids = ctx.io.sockets.adapter.rooms.get(channelOf.all(interviewId)) ?? [];
  return [...ids].flatMap((id) => ctx.io.sockets.sockets.get(id) ?? []);
}
