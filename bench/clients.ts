/**
 * One simulated participant, the same interface for both systems: a real Yjs
 * document kept in sync by the system's own client library (Duet's
 * DuetProvider over socket.io-client, or HocuspocusProvider over ws).
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { DuetProvider, type DuetClientSocket } from '../shared/provider.js';

export interface BenchClient {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  /**
   * Resolves once the client could show the document: the first sync with the
   * server is complete and, for Duet, `session` has arrived too (the browser
   * builds the room on it, and since change 20 it may come after the sync).
   */
  readonly synced: Promise<void>;
  /** Local edits the server has not acknowledged (Duet: not yet durable). */
  unacknowledged(): number;
  chat(text: string): void;
  /** Called for every chat message received from someone else. */
  onChat(fn: () => void): void;
  close(): void;
}

/** The file the bench types into and reads back. */
export const FILE = 'main.ts';

export function textOf(c: BenchClient): Y.Text | undefined {
  const t = c.doc.getMap('files').get(FILE);
  return t instanceof Y.Text ? t : undefined;
}

export interface ClientSpec {
  url: string;
  room: string;
  token: string;
  /** The document to start from (a client reconnecting has it), applied before the connection opens. */
  state?: Uint8Array;
  /** The connection opens once this resolves (by default at once). */
  connectAfter?: Promise<void>;
}

/** Opens the connection: at once, or once `spec.connectAfter` resolves. */
function openWhenReady(spec: ClientSpec, open: () => void): void {
  if (spec.connectAfter) void spec.connectAfter.then(open);
  else open();
}

/** A Duet client, whose two halves of `synced` can be timed apart. */
export interface DuetBenchClient extends BenchClient {
  /** The first sync of the document is complete. */
  readonly documentSynced: Promise<void>;
  /** `session` has arrived. */
  readonly session: Promise<void>;
}

export function connectDuet(spec: ClientSpec, options?: { awarenessResendMs?: number | undefined }): DuetBenchClient {
  const socket: DuetClientSocket = io(spec.url, {
    auth: { token: spec.token },
    transports: ['websocket'],
    // One connection per participant, as with real browsers.
    forceNew: true,
    reconnectionDelay: 500,
    autoConnect: false,
  });
  const provider = new DuetProvider(socket, ['main'], options?.awarenessResendMs === undefined ? {} : { awarenessResendMs: options.awarenessResendMs });
  if (spec.state) Y.applyUpdate(provider.doc('main'), spec.state);
  openWhenReady(spec, () => socket.connect());
  const session = new Promise<void>((resolve) => provider.on('session', () => resolve()));
  const documentSynced = provider.whenSynced('main');
  return {
    doc: provider.doc('main'),
    awareness: provider.awareness('main'),
    documentSynced,
    session,
    synced: Promise.all([documentSynced, session]).then(() => {}),
    unacknowledged: () => provider.pending,
    chat(text) {
      socket.emit('chat:send', { channel: 'room', text }, () => {});
    },
    onChat(fn) {
      socket.on('chat:message', fn);
    },
    close() {
      provider.destroy();
      socket.close();
    },
  };
}

export function connectHocuspocus(spec: ClientSpec): BenchClient {
  const doc = new Y.Doc();
  if (spec.state) Y.applyUpdate(doc, spec.state);
  const websocketProvider = new HocuspocusProviderWebsocket({ url: spec.url, WebSocketPolyfill: WebSocket, autoConnect: false });
  const provider = new HocuspocusProvider({ websocketProvider, name: spec.room, document: doc, token: spec.token });
  // A provider given its own websocket provider must be attached to it.
  provider.attach();
  openWhenReady(spec, () => void websocketProvider.connect());
  const synced = new Promise<void>((resolve) => {
    if (provider.isSynced) resolve();
    else provider.on('synced', () => resolve());
  });
  return {
    doc,
    awareness: provider.awareness!,
    synced,
    unacknowledged: () => provider.unsyncedChanges,
    chat(text) {
      provider.sendStateless(JSON.stringify({ chat: text }));
    },
    onChat(fn) {
      provider.on('stateless', fn);
    },
    close() {
      provider.destroy();
      websocketProvider.destroy();
    },
  };
}
