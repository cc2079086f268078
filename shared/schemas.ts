/**
 * zod schemas of every inbound payload (Socket.IO events and REST bodies).
 * The server parses with these before anything else; nothing unparsed reaches a handler.
 */
import { z } from 'zod';
import { CHAT_CHANNELS, DOC_NAMES, INVITE_ROLES, ROLES } from './roles.js';
import { LANGUAGE_IDS } from './languages.js';
import { LIMITS } from './limits.js';
import { RUN_PATH_MAX_CHARS, RUN_PATH_PATTERN } from './run-paths.js';
import { wellFormed } from './well-formed.js';

/** Binary payload: a Buffer in Node, a Uint8Array from browsers (socket.io-client sends views as-is). */
export const bytes = (maxBytes: number) =>
  z
    .custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected binary data' })
    .refine((v) => v.byteLength <= maxBytes, { message: `larger than ${maxBytes} bytes`, params: { tooLarge: true } });

const docName = z.enum(DOC_NAMES);

/**
 * Text stored in a column of its own (a person's id or name, which goes into
 * every event they cause; an interview's title): no NUL (no PostgreSQL text
 * holds one: in a name it would fail the commit of every interview in its
 * group, in a title the insert), lone surrogates replaced, so both databases
 * keep the same text.
 */
const storableText = (text: z.ZodString) =>
  text.refine((s) => !s.includes('\u0000'), { message: 'contains a NUL character' }).transform(wellFormed);

/**
 * An interview's or an invite's id as Duet makes them (base64url,
 * server/auth.ts). A path naming anything else names no record, and is not
 * looked up: a NUL in it was a database error on PostgreSQL.
 */
export const recordIdSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9_-]+$/, 'not an id Duet makes (letters, digits, - and _)');

export const docSyncSchema = z.strictObject({
  doc: docName,
  stateVector: bytes(LIMITS.stateVectorBytes),
});

/**
 * Binary data in the handshake's `auth`, which Socket.IO sends as JSON only:
 * base64. Decoded with atob, which browsers and Node both have.
 */
const base64Bytes = (maxBytes: number) =>
  z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4, `larger than ${maxBytes} bytes`)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not base64')
    .transform((s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)))
    .refine((b) => b.byteLength <= maxBytes, { message: `larger than ${maxBytes} bytes`, params: { tooLarge: true } });

/**
 * `auth.sync` in the handshake: a state vector per document, so the node
 * answers each document's first sync as soon as the socket is in the room,
 * one round trip sooner than a `doc:sync` sent after the connection.
 */
export const handshakeSyncSchema = z.strictObject({
  main: base64Bytes(LIMITS.stateVectorBytes).optional(),
  notes: base64Bytes(LIMITS.stateVectorBytes).optional(),
});

export const docUpdateSchema = z.strictObject({
  doc: docName,
  update: bytes(LIMITS.updateBytes),
});

export const awarenessSchema = z.strictObject({
  doc: docName,
  update: bytes(LIMITS.awarenessBytes),
});

/** A Yjs id, as a relative position's JSON holds it. */
const yjsId = z.strictObject({ client: z.number().int().min(0), clock: z.number().int().min(0) });

/** A Yjs relative position as `Y.relativePositionToJSON` writes it. */
const relativePosition = z.strictObject({
  type: yjsId.nullable().optional(),
  tname: z.string().max(200).nullable().optional(),
  item: yjsId.nullable().optional(),
  assoc: z.number().int().optional(),
});

/**
 * What a page shares of itself on a document's awareness
 * (client/src/remote-cursors.ts): who it is, which the server overwrites with
 * the token's identity, and where its selections are. Nothing else: what the
 * server relays here goes to everyone in the room and is not in the log, so it
 * must not carry free text from one person to another.
 */
export const awarenessStateSchema = z.strictObject({
  user: z.unknown().optional(),
  cursor: z
    .strictObject({
      file: z.string().min(1).max(200),
      selections: z.array(z.strictObject({ anchor: relativePosition, head: relativePosition })).max(LIMITS.cursorSelections),
    })
    .nullable()
    .optional(),
});
export type AwarenessState = z.infer<typeof awarenessStateSchema>;

export const chatSendSchema = z.strictObject({
  channel: z.enum(CHAT_CHANNELS),
  text: z
    .string()
    .trim()
    .min(1, 'empty message')
    .max(LIMITS.chatChars, `longer than ${LIMITS.chatChars} characters`),
});

export const languageSchema = z.strictObject({ language: z.enum(LANGUAGE_IDS) });

/** A file path as the runner accepts it (run-paths.ts). */
export const runPathSchema = z
  .string()
  .min(1)
  .max(RUN_PATH_MAX_CHARS)
  .regex(RUN_PATH_PATTERN, 'must be a relative path of letters, digits and . _ + -');

export const runStartSchema = z.strictObject({
  path: runPathSchema.optional(),
  stdin: z.string().max(LIMITS.runStdinChars, `longer than ${LIMITS.runStdinChars} characters`).optional(),
});

export const runStopSchema = z.strictObject({ runId: z.string().min(1).max(100) });

export const runSettingsSchema = z.strictObject({ candidateMayRun: z.boolean() });

/** Integrity signals the room client reports for the candidate (docs/replay.md). */
export const SIGNAL_KINDS = ['paste', 'blur', 'focus', 'hidden', 'visible'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export const signalReportSchema = z.strictObject({
  kind: z.enum(SIGNAL_KINDS),
  /** Characters pasted (paste only). */
  size: z.number().int().min(0).max(LIMITS.docChars).optional(),
  /** The file it happened in. */
  path: z.string().min(1).max(LIMITS.signalPathChars).optional(),
});

// REST bodies

export const createInterviewSchema = z.strictObject({
  title: storableText(z.string().trim().min(1).max(LIMITS.titleChars)),
  language: z.enum(LANGUAGE_IDS).optional(),
  /** The text the interview's one file starts with. */
  starterCode: z.string().max(LIMITS.starterCodeChars, `longer than ${LIMITS.starterCodeChars} characters`).optional(),
});

export const createInviteSchema = z.strictObject({
  role: z.enum(INVITE_ROLES),
  name: storableText(z.string().trim().min(1).max(LIMITS.nameChars)),
  /** Seconds; at most 30 days. */
  expiresIn: z.number().int().min(60).max(30 * 24 * 3600).optional(),
});

/** The body of a request that takes none (ending an interview, deleting one, revoking an invite): absent or `{}`. */
export const noBodySchema = z.strictObject({});

/** A token for yourself, scoped to one interview: to open its room, or its replay. */
export const ownTokenSchema = z.strictObject({
  role: z.enum(['interviewer', 'reviewer']).default('interviewer'),
});

export const eventsQuerySchema = z.strictObject({
  // A sequence number is a 32-bit integer in the log (PostgreSQL's integer).
  after: z.coerce.number().int().min(0).max(2 ** 31 - 1, 'past any sequence number').default(0),
  limit: z.coerce.number().int().min(1).max(LIMITS.eventsPageMax).default(500),
});

/**
 * `GET /api/interviews`: a page of at most `limit`, made before the cursor `before` (a previous
 * page's `next`); with `q`, those whose title has it in it (any case; blank is no filter).
 */
export const interviewsQuerySchema = z.strictObject({
  q: storableText(z.string().trim().max(LIMITS.titleChars)).optional(),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER, 'past any cursor').optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.interviewsPageMax).default(LIMITS.interviewsPageMax),
});

/** Claims Duet reads from a token; anything else in it is ignored. */
export const tokenClaimsSchema = z.object({
  sub: storableText(z.string().min(1).max(200)),
  name: storableText(z.string().min(1).max(LIMITS.nameChars)),
  role: z.enum(ROLES),
  // Looked up, so shaped like an id Duet makes (one with a NUL was a database error on PostgreSQL).
  iid: recordIdSchema.optional(),
  // An identity provider's own ids may have any shape: only what no database text holds is refused.
  jti: storableText(z.string().max(100)).optional(),
  exp: z.number(),
});

export type DocSyncRequest = z.infer<typeof docSyncSchema>;
export type HandshakeSync = z.output<typeof handshakeSyncSchema>;
export type DocUpdateMessage = z.infer<typeof docUpdateSchema>;
export type AwarenessMessage = z.infer<typeof awarenessSchema>;
export type ChatSendRequest = z.infer<typeof chatSendSchema>;
export type LanguageRequest = z.infer<typeof languageSchema>;
export type SignalReport = z.infer<typeof signalReportSchema>;
export type RunStartRequest = z.infer<typeof runStartSchema>;
export type RunStopRequest = z.infer<typeof runStopSchema>;
export type RunSettingsRequest = z.infer<typeof runSettingsSchema>;
export type CreateInterviewRequest = z.infer<typeof createInterviewSchema>;
export type CreateInviteRequest = z.infer<typeof createInviteSchema>;
export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
