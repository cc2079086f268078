/** What the results say about the machine and the versions they were measured with. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DATABASE_URL, PROJECT_ROOT } from './systems/cluster.js';

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function run(cmd: string, args: string[], cwd = PROJECT_ROOT): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
  };
}

export async function versions(duetRoot = PROJECT_ROOT): Promise<Record<string, string>> {
  let postgres = '?';
  const client = new pg.Client({ connectionString: DATABASE_URL });
  try {
    await client.connect();
    const r = await client.query<{ server_version: string }>('SHOW server_version');
    postgres = r.rows[0]?.server_version ?? '?';
  } catch {
    /* reported as ? */
  } finally {
    await client.end().catch(() => {});
  }
  const redis = /redis_version:(\S+)/.exec(run('redis-cli', ['INFO', 'server']))?.[1] ?? '?';
  return {
    duet: run('git', ['rev-parse', '--short', 'HEAD'], duetRoot) + (run('git', ['status', '--porcelain', 'server', 'shared'], duetRoot) ? ' (+ uncommitted changes)' : ''),
    node: process.version,
    'socket.io': pkgVersion('socket.io'),
    '@socket.io/redis-adapter': pkgVersion('@socket.io/redis-adapter'),
    yjs: pkgVersion('yjs'),
    '@hocuspocus/server': pkgVersion('@hocuspocus/server'),
    redis,
    postgres,
  };
}
