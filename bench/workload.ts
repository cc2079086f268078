/** The shape of one load-generator run, shared by the orchestrator and the generator. */
export type SystemName = 'duet' | 'hocuspocus';

export interface WorkloadConfig {
  system: SystemName;
  /** The two nodes: http://host:port for Duet, ws://host:port for Hocuspocus. */
  urls: string[];
  /** The nodes' JWT_SECRET (the generator signs clients' tokens, as an organisation's backend would). */
  secret: string;
  rooms: number;
  /** This generator's first room index (several generators split the rooms). */
  roomOffset: number;
  clientsPerRoom: number;
  /** Updates per second of each room's one typist. */
  rate: number;
  warmupS: number;
  durationS: number;
  seed: number;
  /** A sequential editing trace to type instead of the synthetic mix. */
  trace?: string | undefined;
  /** Awareness (cursor) updates per second: the typist's, and each other client's. */
  typistAwarenessHz: number;
  idleAwarenessHz: number;
  /**
   * The typist also sets its caret after every edit, as the browser client
   * does (a Yjs relative position at the end of the edit), besides the
   * moves above.
   */
  caretPerKey?: boolean;
  /** Duet's clients: the provider's awarenessResendMs (0 sends every state set, as clients did before change 36). */
  awarenessResendMs?: number | undefined;
  /** One chat message per room every this many seconds (0: none). */
  chatEveryS: number;
  /** Connections opened at once while joining. */
  connectConcurrency: number;
}

export interface GeneratorLoad {
  /** CPU seconds per second of the generator during the window. */
  cpu: number;
  /** Seconds per second its main thread waited for a core (undefined where the kernel does not say). */
  waited?: number;
  eldP99: number;
  eldMax: number;
  saturated: boolean;
}

export interface WorkloadResult {
  type: 'result';
  system: SystemName;
  rooms: number;
  clients: number;
  windowS: number;
  edits: number;
  /** HdrHistograms (compressed base64) of propagation latency in µs: cross-node receivers, same-node, all. */
  hist: { cross: string; same: string; all: string };
  deliveries: { doc: number; awareness: number; chat: number; perSecond: number };
  /**
   * (receiver, edit) pairs never applied by the end of the quiet period,
   * which lasts while the backlog still drains (see quietPeriodS).
   */
  lost: number;
  /** How long the quiet period after the window took, s: until everything arrived, or nothing had for 20 s (at most 180 s). */
  quietPeriodS?: number;
  /** Clients whose final text differs from the typist's. */
  diverged: number;
  /** Typists' edits never acknowledged by the server. */
  unacknowledged: number;
  /** Duet only: rooms whose document on the server (REST) differs from the typist's text. */
  serverMismatch: number | null;
  join: { count: number; p50: number; p95: number; max: number };
  generator: GeneratorLoad;
  errors: string[];
}
