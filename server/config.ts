/**
 * Environment -> a frozen, validated Config. `main.ts` is the only caller that
 * passes `process.env`; tests build configs directly.
 */
import { createPublicKey } from 'node:crypto';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { LIMITS } from '../shared/limits.js';
import { loadRunnerConfig, type RunnerConfig } from './runner/config.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const REDIS_URL_PATTERN = /^rediss?:\/\//;

const envSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_PUBLIC_KEY: z
    .string()
    .refine((v) => v.includes('BEGIN PUBLIC KEY'), 'must be a PEM "PUBLIC KEY" (SPKI)')
    .refine(isRs256Key, 'is not an RSA public key of 2048 bits or more that can be read (check the PEM body)')
    .optional(),
  /** Invite links are made from it, so it is an origin: the client is served at the root. */
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, like https://duet.example.org' })
    .refine((v) => {
      // Runs after a failed URL check too (zod goes on): that one is the line shown.
      if (!URL.canParse(v)) return true;
      const u = new URL(v);
      return u.pathname === '/' && !u.search && !u.hash;
    }, 'must have no path, like https://duet.example.org (Duet is served at the root of its address)')
    .transform((v) => new URL(v).origin)
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Events per second a socket may send (sustained), and its burst. */
  SOCKET_EVENTS_PER_SECOND: positiveInt.default(200),
  SOCKET_EVENT_BURST: positiveInt.default(1000),
  /**
   * Bytes a person may add to an interview's log per second (sustained), and
   * their burst: at least one update of the largest size, or a paste that
   * large could never be stored.
   */
  WRITE_BYTES_PER_SECOND: positiveInt.default(16 * 1024),
  WRITE_BYTES_BURST: positiveInt.min(LIMITS.updateBytes, `must be at least ${LIMITS.updateBytes} (one update of the largest size)`).default(4 * 1024 * 1024),
  /** Compact a document's log into a snapshot after this many updates. */
  SNAPSHOT_EVERY: positiveInt.default(500),
  /** Default lifetime of an invite, in seconds. */
  INVITE_TTL: positiveInt.default(7 * 24 * 3600),
  /** Many nodes: Redis carries cross-node broadcasts (see docs/deploy.md). */
  REDIS_URL: z
    .string()
    .regex(REDIS_URL_PATTERN, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[\w:.-]{1,64}$/, 'must be 1-64 of letters, digits, _ : . -').default('duet'),
  /** classic: PSUBSCRIBE, every broadcast to every node; sharded: SPUBLISH per room (Redis 7, Redis Cluster). */
  REDIS_ADAPTER: z.enum(['classic', 'sharded']).default('sharded'),
  /** PostgreSQL instead of the embedded SQLite file. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .optional(),
  /** Cluster mode on one machine: this many nodes behind @socket.io/sticky (1: no cluster). */
  WORKERS: positiveInt.max(256).default(1),
  /**
   * A node whose heartbeat (every sixth of this) stops this long is taken
   * for dead: another logs the leaves of its connections (docs/deploy.md).
   */
  NODE_DEAD_AFTER_SECONDS: positiveInt.min(3).max(3600).default(60),
  /**
   * Engine.IO's ping interval and timeout: a connection silent for up to twice
   * this is taken for gone, by the node (the person leaves) and by the client
   * (it reconnects, through the load balancer, when its node's host is lost).
   * At most 14: a page refused as "too many connections" keeps trying for 30 s
   * (client/src/connection.ts), for its own dead sockets to be dropped.
   */
  PING_INTERVAL_SECONDS: positiveInt.min(1).max(14).default(10),
  /** Delete interviews this many days after they ended (unset: keep them). */
  RETENTION_DAYS: positiveInt.max(36500).optional(),
  /** Abuse limits (docs/security.md): per client IP, shared through Redis when REDIS_URL is set. */
  HANDSHAKES_PER_MINUTE: positiveInt.default(600),
  HTTP_REQUESTS_PER_MINUTE: positiveInt.default(1200),
  /** Live sockets of one interview on one node. */
  MAX_SOCKETS_PER_INTERVIEW: positiveInt.default(100),
  /** Live sockets of one person (a token's sub) in one interview on one node: tabs, and reconnections not yet noticed. */
  MAX_SOCKETS_PER_PERSON: positiveInt.default(10),
  /** Output queued for one socket that does not read; past it the socket is dropped (it reconnects and resyncs). */
  SOCKET_SEND_BUFFER_BYTES: positiveInt.min(64 * 1024).default(16 * 1024 * 1024),
  /** Reverse proxies whose X-Forwarded-For is believed (comma-separated: loopback, uniquelocal, CIDRs, addresses). */
  TRUST_PROXY: z
    .string()
    .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .refine(
      (list) => {
        try {
          proxyaddr.compile(list);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'must be proxy names (loopback, linklocal, uniquelocal), IP addresses or CIDR ranges' },
    )
    .default(['loopback']),
  /** Browser origins allowed besides the node's own (comma-separated), for REST and Socket.IO. */
  CORS_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean))
    .pipe(z.array(z.union([z.literal('*'), z.url({ protocol: /^https?$/ })])))
    // An origin is scheme://host[:port]; a path someone pasted along is dropped.
    .transform((list) => list.map((o) => (o === '*' ? o : new URL(o).origin)))
    .default([]),
});

/** RS256 needs an RSA key of 2048 bits or more (jose refuses the others, at start or at every token). */
function isRs256Key(pem: string): boolean {
  try {
    const key = createPublicKey(pem);
    return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  } catch {
    return false;
  }
}

/** Every variable envSchema reads (deployment files are checked against it); RUNNER_* are read by runner/config.ts. */
export const ENV_NAMES: readonly string[] = Object.freeze(Object.keys(envSchema.shape));

export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  /** Undefined: the node generates one and keeps it in dataDir. */
  jwtSecret: string | undefined;
  jwtPublicKey: string | undefined;
  publicUrl: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  socketEventsPerSecond: number;
  socketEventBurst: number;
  writeBytesPerSecond: number;
  writeBytesBurst: number;
  snapshotEvery: number;
  inviteTtlSeconds: number;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  redisAdapter: 'classic' | 'sharded';
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  workers: number;
  /** A node not heard from for this long is taken for dead (server/realtime/dead-nodes.ts). */
  nodeDeadAfterMs: number;
  /** Engine.IO's pingInterval and pingTimeout (each). */
  pingIntervalMs: number;
  /** Days an ended interview is kept; undefined keeps it forever (docs/replay.md). */
  retentionDays: number | undefined;
  handshakesPerMinute: number;
  httpRequestsPerMinute: number;
  maxSocketsPerInterview: number;
  maxSocketsPerPerson: number;
  socketSendBufferBytes: number;
  corsOrigins: readonly string[];
  trustProxy: readonly string[];
  /** Code runs: RUNNER_* variables (docs/runner.md). */
  runner: RunnerConfig;
}>;

// URLs may carry passwords.
const SECRET_VARS = new Set(['JWT_SECRET', 'JWT_PUBLIC_KEY', 'REDIS_URL', 'DATABASE_URL']);

/** Every bad variable, one line each (the message joins them), so one restart shows them all. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** Parses the environment; each bad variable becomes one line naming it. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const runner = loadRunnerConfig(present);
  const problems: string[] = [];
  if (!parsed.success) {
    const named = new Set<string>();
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      if (named.has(name)) continue;
      named.add(name);
      // Secrets are named, never echoed.
      const shown = SECRET_VARS.has(name) ? '' : `=${JSON.stringify(env[name] ?? '')}`;
      problems.push(`Invalid ${name}${shown}: ${issue.message}`);
    }
  }
  // Checked on the raw values, so it is named in the same restart as any other problem.
  // A secret generated in each node's data directory differs from node to node: a
  // token one node made would be refused by the next.
  if (present.REDIS_URL && REDIS_URL_PATTERN.test(present.REDIS_URL) && !present.JWT_SECRET) {
    problems.push(
      'Invalid JWT_SECRET: must be set when REDIS_URL is: every node must sign and check tokens with the same secret (to keep the links already sent working, set it to what DATA_DIR/jwt-secret holds)',
    );
  }
  if ('errors' in runner) problems.push(...runner.errors);
  if (!parsed.success || 'errors' in runner || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    jwtSecret: e.JWT_SECRET,
    jwtPublicKey: e.JWT_PUBLIC_KEY,
    publicUrl: e.PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    socketEventsPerSecond: e.SOCKET_EVENTS_PER_SECOND,
    socketEventBurst: e.SOCKET_EVENT_BURST,
    writeBytesPerSecond: e.WRITE_BYTES_PER_SECOND,
    writeBytesBurst: e.WRITE_BYTES_BURST,
    snapshotEvery: e.SNAPSHOT_EVERY,
    inviteTtlSeconds: e.INVITE_TTL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisAdapter: e.REDIS_ADAPTER,
    databaseUrl: e.DATABASE_URL,
    databaseSchema: e.DATABASE_SCHEMA,
    workers: e.WORKERS,
    nodeDeadAfterMs: e.NODE_DEAD_AFTER_SECONDS * 1000,
    pingIntervalMs: e.PING_INTERVAL_SECONDS * 1000,
    retentionDays: e.RETENTION_DAYS,
    handshakesPerMinute: e.HANDSHAKES_PER_MINUTE,
    httpRequestsPerMinute: e.HTTP_REQUESTS_PER_MINUTE,
    maxSocketsPerInterview: e.MAX_SOCKETS_PER_INTERVIEW,
    maxSocketsPerPerson: e.MAX_SOCKETS_PER_PERSON,
    socketSendBufferBytes: e.SOCKET_SEND_BUFFER_BYTES,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    trustProxy: Object.freeze(e.TRUST_PROXY),
    runner: runner.config,
  });
}

/** A config for tests and embedding: defaults plus overrides. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}), ...overrides });
}
