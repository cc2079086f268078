/**
 * The command line that runs one program in the sandbox. Each protection is
 * enforced by the kernel, not by us watching the program:
 *
 *   setpriv  --pdeathsig KILL     the chain dies if the node dies (no orphaned runs)
 *            --reuid/--regid      a host uid of its own per slot (RLIMIT_NPROC counts per uid;
 *                                 root's processes are exempt from it, so never run as root)
 *   prlimit  --as --cpu --nproc --fsize --nofile --core
 *   bwrap    --unshare-all        no network (empty net namespace), new PID/IPC/UTS/user/cgroup ns
 *            --die-with-parent    the sandbox's init dies with bwrap; the PID namespace dies with it,
 *                                 killing every process left inside (background children included)
 *            --new-session        no TIOCSTI into the node's terminal
 *            --cap-drop ALL, --uid/--gid 65534 inside, --disable-userns (no nested user namespaces);
 *            bwrap also sets no_new_privs, so no setuid binary can regain privileges
 *            read-only binds of /usr (+ /bin /lib /lib64 /sbin as on the host) and a few /etc files;
 *            nothing else of the host: not the project, not DATA_DIR, not /root, not the host /tmp
 *            tmpfs /work (the interview's files, copied in through fds), tmpfs /tmp and /dev/shm, all sized;
 *            the rest of the root and /dev read-only (--remount-ro)
 *            --seccomp: memfd_create, shmget and msgget refused (seccomp.ts): memory RLIMIT_AS and the
 *            tmpfs sizes would not count
 *            --clearenv + an explicit minimal environment
 *
 * See docs/runner.md.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { LanguageRow, RunnerConfig } from './config.js';
import { seccompFilter } from './seccomp.js';

export const WORK_DIR = '/work';
/** Where GNU time writes the peak memory inside the sandbox. */
const USAGE_FILE = '/tmp/.duet-usage';
/** fd 3 carries the usage report out; the program itself never gets it (`3>&-`). */
export const USAGE_FD = 3;
/** Files go in on fds 4, 5, ... (bwrap --file). */
export const FIRST_FILE_FD = 4;

const SANDBOX_UID = 65534;
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Small /etc pieces interpreters look for; everything else of /etc (secrets, config) stays out. */
const ETC_FILES = ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime'];

/**
 * The outer shell: run the program under GNU time, then hand the report to
 * fd 3. The program could forge its own report; that only misstates its own
 * memory.
 */
const TIMED_SCRIPT = 't=$1 u=$2; shift 2; "$t" -f %M -o "$u" -- "$@" 3>&-; rc=$?; cat "$u" >&3 2>/dev/null; exit $rc';
const UNTIMED_SCRIPT = 'exec "$@" 3>&-';

export interface Placeholders {
  file: string;
  memoryMb: number;
}

export function expand(arg: string, p: Placeholders): string {
  const ext = posix.extname(p.file);
  return arg
    .replaceAll('{file}', p.file)
    .replaceAll('{stem}', posix.basename(p.file, ext))
    .replaceAll('{dir}', posix.dirname(p.file))
    .replaceAll('{memoryMb}', String(p.memoryMb));
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The program's argv: the run command, after the build command when there is one. */
export function programArgv(row: LanguageRow, p: Placeholders): string[] {
  const run = row.run.map((a) => expand(a, p));
  if (!row.build) return run;
  const build = row.build.map((a) => expand(a, p));
  return ['/bin/sh', '-c', `${build.map(shellQuote).join(' ')} && exec ${run.map(shellQuote).join(' ')}`];
}

export function sandboxEnv(row: LanguageRow, p: Placeholders, home: string, tmp = '/tmp'): Record<string, string> {
  const env: Record<string, string> = { PATH: SANDBOX_PATH, HOME: home, TMPDIR: tmp, LANG: 'C.UTF-8', USER: 'runner' };
  for (const [k, v] of Object.entries(row.env ?? {})) env[k] = expand(v, p);
  return env;
}

/** /bin, /lib, ... are symlinks into /usr on merged-/usr systems and real directories elsewhere. */
function systemDirArgs(): string[] {
  const args: string[] = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
      else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
    } catch {
      // Not on this system.
    }
  }
  for (const path of ETC_FILES) args.push('--ro-bind-try', path, path);
  return args;
}

export interface LimitPlan {
  addressSpaceBytes: number;
  cpuSeconds: number;
  processes: number;
  fileBytes: number;
}

/** `baseline`: tasks the host uid already has (runs sharing the node's uid), added to the process budget. */
export function limitsFor(config: RunnerConfig, row: LanguageRow, baseline = 0): LimitPlan {
  const mb = 1024 * 1024;
  return {
    addressSpaceBytes: (config.memoryMb + (row.addressSpaceExtraMb ?? 0)) * mb,
    cpuSeconds: config.cpuSeconds,
    processes: config.processes + baseline,
    fileBytes: config.workDirMb * mb,
  };
}

function prlimitArgs(l: LimitPlan): string[] {
  return [
    'prlimit',
    `--as=${l.addressSpaceBytes}`,
    // Soft limit: SIGXCPU; one second later the hard limit: SIGKILL.
    `--cpu=${l.cpuSeconds}:${l.cpuSeconds + 1}`,
    `--nproc=${l.processes}`,
    `--fsize=${l.fileBytes}`,
    '--nofile=1024',
    '--core=0',
    '--',
  ];
}

/** setpriv: die with the node; and, when the node is root, a uid of the run's own. */
function setprivArgs(hostUid: number | undefined): string[] {
  const args = ['setpriv', '--pdeathsig', 'KILL'];
  if (hostUid !== undefined) args.push('--reuid', String(hostUid), '--regid', String(hostUid), '--clear-groups');
  return [...args, '--'];
}

export interface SandboxSpec {
  config: RunnerConfig;
  row: LanguageRow;
  /** The file to run, relative to the work dir. */
  entry: string;
  /** Paths (relative) of the files copied in, in fd order from FIRST_FILE_FD. */
  files: readonly string[];
  /** Host uid for the run, or undefined to keep the node's (when not root). */
  hostUid: number | undefined;
  /** GNU time, when the host has it. */
  timeBinary: string | undefined;
  /** Tasks already running as hostUid's owner (0 for a uid of the run's own). */
  processBaseline?: number;
}

export interface Command {
  file: string;
  args: string[];
  /** The environment of the launcher chain; the program gets its own (--clearenv). */
  env: Record<string, string>;
  /** Fed on the fds after the files' (FIRST_FILE_FD + the number of files, ...): the seccomp filter. */
  inputs?: readonly Uint8Array[];
}

const LAUNCHER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

function innerArgv(spec: SandboxSpec, p: Placeholders, usageFile: string): string[] {
  const program = programArgv(spec.row, p);
  return spec.timeBinary
    ? ['/bin/sh', '-c', TIMED_SCRIPT, 'duet-run', spec.timeBinary, usageFile, ...program]
    : ['/bin/sh', '-c', UNTIMED_SCRIPT, 'duet-run', ...program];
}

export function sandboxCommand(spec: SandboxSpec): Command {
  const { config, row } = spec;
  const p: Placeholders = { file: spec.entry, memoryMb: config.memoryMb };
  const tmpfsBytes = String(config.workDirMb * 1024 * 1024);
  const bwrap: string[] = [
    config.bwrapPath,
    '--unshare-all',
    // Explicit, so nested user namespaces (kernel attack surface) can be refused inside.
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_UID),
    '--hostname',
    'duet-runner',
    ...systemDirArgs(),
    ...(row.readOnlyBinds ?? []).flatMap((d) => ['--ro-bind-try', d, d]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // bwrap's /dev is a tmpfs of its own with no size: made read-only below,
    // with a sized /dev/shm (POSIX shared memory, semaphores) the one place to write.
    '--size',
    tmpfsBytes,
    '--tmpfs',
    '/dev/shm',
    '--size',
    tmpfsBytes,
    '--tmpfs',
    '/tmp',
    '--size',
    tmpfsBytes,
    '--tmpfs',
    WORK_DIR,
  ];
  const dirs = new Set<string>();
  for (const path of spec.files) {
    for (let d = posix.dirname(path); d !== '.' && !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs].sort()) bwrap.push('--dir', `${WORK_DIR}/${d}`);
  spec.files.forEach((path, i) => bwrap.push('--file', String(FIRST_FILE_FD + i), `${WORK_DIR}/${path}`));
  // bwrap's own root is a writable tmpfs: seal it, and /dev, leaving /work, /tmp and /dev/shm (their own mounts) writable.
  bwrap.push('--remount-ro', '/dev', '--remount-ro', '/', '--chdir', WORK_DIR, '--clearenv');
  const filter = seccompFilter();
  if (filter) bwrap.push('--seccomp', String(FIRST_FILE_FD + spec.files.length));
  for (const [k, v] of Object.entries(sandboxEnv(row, p, WORK_DIR))) bwrap.push('--setenv', k, v);
  bwrap.push('--', ...innerArgv(spec, p, USAGE_FILE));

  const all = [...setprivArgs(spec.hostUid), ...prlimitArgs(limitsFor(config, row, spec.processBaseline)), ...bwrap];
  return { file: all[0]!, args: all.slice(1), env: LAUNCHER_ENV, inputs: filter ? [filter] : [] };
}

/**
 * RUNNER_UNSAFE_DEV: the same limits and clean environment, but no namespaces:
 * the program sees the host's filesystem and network as the node's user.
 * HOME and TMPDIR are the run's own directory.
 * The files are written into `workDir` by the caller.
 */
export function unsafeCommand(spec: SandboxSpec, workDir: string): Command {
  const p: Placeholders = { file: spec.entry, memoryMb: spec.config.memoryMb };
  const all = [
    ...setprivArgs(spec.hostUid),
    ...prlimitArgs(limitsFor(spec.config, spec.row, spec.processBaseline)),
    ...innerArgv(spec, p, posix.join(workDir, '.duet-usage')),
  ];
  // No private /tmp without namespaces: the run's own directory stands in for it.
  return { file: all[0]!, args: all.slice(1), env: sandboxEnv(spec.row, p, workDir, workDir) };
}

/** The probe: does bwrap, with the flags above, run anything here at all? */
export function probeCommand(config: RunnerConfig, hostUid: number | undefined, processBaseline: number): Command {
  const spec: SandboxSpec = {
    config,
    row: { run: ['true'] },
    entry: 'probe',
    files: [],
    hostUid,
    timeBinary: undefined,
    processBaseline,
  };
  return sandboxCommand(spec);
}
