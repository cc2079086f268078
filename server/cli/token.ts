/**
 * npm run token -- --role interviewer --name "Ada" [--sub ID] [--iid INTERVIEW] [--ttl SECONDS]
 * --sub defaults to one derived from the name, so every token for "Ada" is the same person.
 * Prints a token signed with this node's secret (JWT_SECRET, or the one kept in DATA_DIR).
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ROLES } from '../../shared/roles.js';
import { recordIdSchema } from '../../shared/schemas.js';
import { createTokenService, resolveSecret } from '../auth.js';
import { ConfigError, loadConfig } from '../config.js';
import { StartError } from '../start-failure.js';

const USAGE = 'usage: npm run token -- --role interviewer|admin|candidate|observer|reviewer --name "Ada" [--sub ID] [--iid ID] [--ttl SECONDS]';

const OPTIONS = {
  role: { type: 'string', default: 'interviewer' },
  name: { type: 'string' },
  sub: { type: 'string' },
  iid: { type: 'string' },
  ttl: { type: 'string', default: String(12 * 3600) },
  help: { type: 'boolean', short: 'h' },
} as const;

const optionNamed = (arg: string) => {
  const name = arg.startsWith('--') ? arg.slice(2).split('=')[0]! : '';
  return Object.hasOwn(OPTIONS, name) ? OPTIONS[name as keyof typeof OPTIONS] : undefined;
};

/**
 * parseArgs refuses "--iid -P4b…" as ambiguous, yet one id Duet makes in 64 starts with "-"
 * (base64url), and one in 4,096 with "--". A string option takes a next argument starting with
 * a single "-" as its value, and --iid one starting with "--" too (the id's format is checked
 * after); never one of this CLI's own options, "-h" or "--", so a forgotten value is still
 * reported as missing and a mistyped option as unknown.
 */
function valuesAttached(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const takes =
      !arg.includes('=') &&
      optionNamed(arg)?.type === 'string' &&
      next !== undefined &&
      next.startsWith('-') &&
      next !== '-h' &&
      next !== '--' &&
      !optionNamed(next) &&
      (!next.startsWith('--') || arg === '--iid');
    out.push(takes ? `${arg}=${next}` : arg);
    if (takes) i++;
  }
  return out;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({ args: valuesAttached(process.argv.slice(2)), options: OPTIONS }));
} catch (err) {
  console.error(`token: ${err instanceof Error ? err.message : String(err)}`);
  console.error(USAGE);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  console.log('Prints a token signed with the secret a node on this machine uses: JWT_SECRET, or the one kept in DATA_DIR (default ./data).');
  process.exit(0);
}

const args = z
  .object({
    role: z.enum(ROLES),
    name: z.string({ error: 'is required' }).min(1, 'is required'),
    sub: z.string().min(1).optional(),
    iid: recordIdSchema.optional(),
    ttl: z.coerce.number().int().positive(),
  })
  .safeParse(values);
if (!args.success) {
  const issue = args.error.issues[0]!;
  console.error(`token: --${String(issue.path[0])}: ${issue.message}`);
  console.error(USAGE);
  process.exit(2);
}

try {
  const config = loadConfig(process.env);
  // A new secret here means no node has used this DATA_DIR yet (or the wrong one is set).
  const secret = resolveSecret(config.jwtSecret, config.dataDir, (file) =>
    console.error(`token: made a new secret in ${file}: only a node started with this DATA_DIR (and no JWT_SECRET) accepts this token`),
  );
  const tokens = await createTokenService({ secret });
  const { role, name, sub, iid, ttl } = args.data;
  // The same name is the same person by default: a token minted again once the last expired
  // still lists the interviews the last one created (they are kept per sub).
  const person = sub ?? `u_${createHash('sha256').update(name).digest('base64url').slice(0, 16)}`;
  const token = await tokens.sign({ sub: person, name, role, ...(iid ? { iid } : {}) }, ttl);
  process.stdout.write(token + '\n');
} catch (err) {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) console.error(`token: ${problem}`);
    process.exit(1);
  }
  if (err instanceof StartError) {
    console.error(`token: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
