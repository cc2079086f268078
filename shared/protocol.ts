/**
 * The v1 wire contract: typed Socket.IO event maps and the shapes on the wire.
 * Server and client both import this file; nothing on the wire is declared twice.
 */
import type { ErrorBody } from './errors.js';
import type { Language } from './languages.js';
import type { ChatChannel, DocName, Role } from './roles.js';
import type {
  AwarenessMessage,
  ChatSendRequest,
  DocSyncRequest,
  DocUpdateMessage,
  LanguageRequest,
} from './schemas.js';

export const PROTOCOL_VERSION = 1;

export type InterviewStatus = 'open' | 'ended';

export interface Interview {
  id: string;
  title: string;
  language: Language;
  status: InterviewStatus;
  createdAt: string;
  endedAt: string | null;
  createdBy: { sub: string; name: string };
}

export interface Actor {
  sub: string;
  name: string;
  role: Role;
}

export interface Participant extends Actor {
  online: boolean;
}

export interface ChatMessage {
  id: string;
  at: string;
  channel: ChatChannel;
  from: Actor;
  text: string;
}

export type EventType = 'doc' | 'chat' | 'join' | 'leave' | 'language' | 'end';

export interface LoggedEvent {
  seq: number;
  at: string;
  type: EventType;
  actor: Actor;
  data: Record<string, unknown>;
}

export interface SessionInfo {
  interview: Interview;
  you: Actor;
  participants: Participant[];
  chat: ChatMessage[];
  protocol: number;
}

export type Ack<T> = T | ErrorBody;
export type AckFn<T> = (reply: Ack<T>) => void;

export interface DocSyncReply {
  update: Uint8Array;
  stateVector: Uint8Array;
}

export interface ClientToServerEvents {
  'doc:sync': (payload: DocSyncRequest, ack: AckFn<DocSyncReply>) => void;
  'doc:update': (payload: DocUpdateMessage, ack: AckFn<{ ok: true }>) => void;
  awareness: (payload: AwarenessMessage, ack?: AckFn<{ ok: true }>) => void;
  'chat:send': (payload: ChatSendRequest, ack: AckFn<{ message: ChatMessage }>) => void;
  'interview:language': (payload: LanguageRequest, ack: AckFn<{ ok: true }>) => void;
}

export interface ServerToClientEvents {
  session: (session: SessionInfo) => void;
  'doc:update': (payload: { doc: DocName; update: Uint8Array }) => void;
  awareness: (payload: { doc: DocName; update: Uint8Array }) => void;
  'chat:message': (message: ChatMessage) => void;
  participants: (participants: Participant[]) => void;
  interview: (interview: Interview) => void;
  error: (error: { code: string; message: string }) => void;
}

/** Events a client may send; anything else is answered `unknown_event`. */
export const CLIENT_EVENTS = ['doc:sync', 'doc:update', 'awareness', 'chat:send', 'interview:language'] as const;
