/**
 * The runner's settings: limits, the queue, and the language table (which
 * toolchain runs which interview language). Parsed from the environment once,
 * through `loadConfig`; see docs/runner.md for every variable.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LANGUAGE_IDS, type Language } from '../../shared/languages.js';

/**
 * How one language runs, inside the sandbox, from the work directory.
 * Placeholders in `build`, `run` and `env` values: `{file}` the file to run
 * (relative to the work dir, after transpiling), `{stem}` its name without
 * extension, `{dir}` its directory, `{memoryMb}` the memory limit.
 * The default file name of a language lives in shared/languages.ts.
 */
export interface LanguageRow {
  /** Run first (e.g. a compiler); a non-zero exit ends the run with that exit. */
  build?: readonly string[];
  run: readonly string[];
  /** Done on the node before the sandbox: `typescript` turns every .ts file into .js with esbuild. */
  transpile?: 'typescript';
  /**
   * Runtimes that reserve virtual memory up front (V8 ~0.8 GB, the JVM, Go)
   * need this much address space on top of the memory limit.
   */
  addressSpaceExtraMb?: number;
  /** More host directories the toolchain needs, bound read-only (e.g. /opt/jdk). */
  readOnlyBinds?: readonly string[];
  env?: Readonly<Record<string, string>>;
}

export type LanguageTable = Readonly<Partial<Record<Language, LanguageRow>>>;

export interface RunnerConfig {
  enabled: boolean;
  /** Run without bubblewrap (development only: the program runs as the node's user, on its filesystem). */
  unsafeDev: boolean;
  bwrapPath: string;
  languages: LanguageTable;
  wallTimeMs: number;
  cpuSeconds: number;
  memoryMb: number;
  processes: number;
  outputBytes: number;
  /** Size of the work directory and /tmp (tmpfs), and the largest file a run may write. */
  workDirMb: number;
  /** Runs executing at once on this node. */
  concurrency: number;
  /** Runs waiting for a slot on this node; beyond this `queue_full`. */
  queueLength: number;
  /**
   * When the node runs as root, each run gets a host uid of its own, picked
   * from uidBase .. uidBase+uidCount-1 among those no process uses: RLIMIT_NPROC
   * counts per uid across the whole host, so runs (of this node or another
   * node on the same machine) never share a process budget.
   */
  uidBase: number;
  uidCount: number;
}

const NODE_ROW: LanguageRow = {
  // The heap limit makes V8 fail cleanly; the address-space limit is the backstop.
  run: ['node', '--max-old-space-size={memoryMb}', '{file}'],
  addressSpaceExtraMb: 1024,
};

export const DEFAULT_LANGUAGES: LanguageTable = {
  javascript: NODE_ROW,
  typescript: {
    ...NODE_ROW,
    run: ['node', '--enable-source-maps', '--max-old-space-size={memoryMb}', '{file}'],
    transpile: 'typescript',
  },
  // -u: unbuffered, so output streams while the program runs.
  python: { run: ['python3', '-u', '{file}'] },
};

const absolutePath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path');
const argv = z.array(z.string().min(1).max(1000)).min(1).max(100);

const languageRowSchema = z.strictObject({
  build: argv.optional(),
  run: argv,
  transpile: z.literal('typescript').optional(),
  addressSpaceExtraMb: z.number().int().min(0).max(1 << 20).optional(),
  readOnlyBinds: z.array(absolutePath).max(50).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096)).optional(),
});

/** A row replaces the default of that language; `null` removes a language. */
const languagesSchema = z.partialRecord(z.enum(LANGUAGE_IDS), languageRowSchema.nullable());

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const runnerEnvSchema = z.object({
  RUNNER_ENABLED: z.stringbool().default(true),
  RUNNER_UNSAFE_DEV: z.stringbool().default(false),
  RUNNER_BWRAP: z.string().min(1).default('bwrap'),
  /** JSON, or `@/path/to/file.json`. */
  RUNNER_LANGUAGES: z.string().optional(),
  RUNNER_TIMEOUT_MS: int(100, 600_000).default(10_000),
  RUNNER_CPU_SECONDS: int(1, 600).default(5),
  RUNNER_MEMORY_MB: int(16, 65_536).default(256),
  RUNNER_PROCESSES: int(4, 10_000).default(64),
  RUNNER_OUTPUT_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  RUNNER_WORKDIR_MB: int(1, 16_384).default(64),
  RUNNER_CONCURRENCY: int(1, 256).default(2),
  RUNNER_QUEUE: int(0, 10_000).default(16),
  RUNNER_UID_BASE: int(1000, 2 ** 31 - 1 - 100_000).default(100_000),
  RUNNER_UID_COUNT: int(16, 100_000).default(10_000),
});

export function parseLanguages(text: string): LanguageTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  const parsed = languagesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.') || 'value'}: ${issue.message}`);
  }
  const table: Partial<Record<Language, LanguageRow>> = { ...DEFAULT_LANGUAGES };
  for (const [lang, row] of Object.entries(parsed.data) as Array<[Language, LanguageRow | null]>) {
    if (row === null) delete table[lang];
    else table[lang] = row;
  }
  return Object.freeze(table);
}

/**
 * The runner's part of the environment. Returns a line naming each bad
 * variable (the caller wraps them in its ConfigError), or the config.
 */
export function loadRunnerConfig(env: Record<string, string | undefined>): { config: RunnerConfig } | { errors: string[] } {
  const parsed = runnerEnvSchema.safeParse(env);
  if (!parsed.success) {
    // The first issue of each variable.
    const byName = new Map<string, string>();
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      if (!byName.has(name)) byName.set(name, `Invalid ${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`);
    }
    return { errors: [...byName.values()] };
  }
  const e = parsed.data;
  let languages = DEFAULT_LANGUAGES;
  if (e.RUNNER_LANGUAGES !== undefined) {
    const source = e.RUNNER_LANGUAGES;
    try {
      const text = source.startsWith('@') ? readFileSync(source.slice(1), 'utf8') : source;
      languages = parseLanguages(text);
    } catch (err) {
      return { errors: [`Invalid RUNNER_LANGUAGES: ${(err as Error).message}`] };
    }
  }
  return {
    config: Object.freeze({
      enabled: e.RUNNER_ENABLED,
      unsafeDev: e.RUNNER_UNSAFE_DEV,
      bwrapPath: e.RUNNER_BWRAP,
      languages,
      wallTimeMs: e.RUNNER_TIMEOUT_MS,
      cpuSeconds: e.RUNNER_CPU_SECONDS,
      memoryMb: e.RUNNER_MEMORY_MB,
      processes: e.RUNNER_PROCESSES,
      outputBytes: e.RUNNER_OUTPUT_BYTES,
      workDirMb: e.RUNNER_WORKDIR_MB,
      concurrency: e.RUNNER_CONCURRENCY,
      queueLength: e.RUNNER_QUEUE,
      uidBase: e.RUNNER_UID_BASE,
      uidCount: e.RUNNER_UID_COUNT,
    }),
  };
}

/** Defaults plus overrides, for tests and embedding. */
export function defaultRunnerConfig(overrides: Partial<RunnerConfig> = {}): RunnerConfig {
  const loaded = loadRunnerConfig({});
  if ('errors' in loaded) throw new Error(loaded.errors.join('\n'));
  return Object.freeze({ ...loaded.config, ...overrides });
}
