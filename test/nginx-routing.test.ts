/**
 * deploy/nginx.conf as it is, run by nginx in front of two nodes: every
 * Socket.IO request of one interview's pages (WebSocket or long-polling)
 * reaches one node, and interviews spread over both; and a browser's page
 * gets in on whatever address it used.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as ioc } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { DuetClientSocket } from '../shared/provider.js';
import { api, createInterview, nextEvent, type TestNode } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';
import { freePort, waitForPort } from './fixtures/services.js';
import { hasNginx } from './fixtures/tools.js';

/** nginx on a random port with the repository's server block, its upstream pointed at `nodes`. */
async function startNginx(nodes: TestNode[]): Promise<string> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'duet-nginx-'));
  let conf = readFileSync(new URL('../deploy/nginx.conf', import.meta.url), 'utf8').replace('listen 80;', `listen 127.0.0.1:${port};`);
  nodes.forEach((n, i) => {
    const name = `duet-${i + 1}:3000`;
    expect(conf).toContain(name);
    conf = conf.replace(name, new URL(n.url).host);
  });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  // user root: workers spill large bodies into this root-only directory.
  writeFileSync(join(dir, 'nginx.conf'), `user root; pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {} http { access_log off; ${temp} ${conf} }`);
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  onTestFinished(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForPort(port, 5000);
  return `http://127.0.0.1:${port}`;
}

describe.skipIf(!hasNginx)('deploy/nginx.conf in front of two nodes', () => {
  it("routes every page of one interview, WebSocket or long-polling, to one node, and spreads interviews over both", { timeout: 60_000 }, async () => {
    const { nodes } = await startCluster(2);
    const front = await startNginx(nodes);
    /** The nodes that hold any of the interviews' sockets. */
    const used = new Set<number>();
    // Until both nodes have interviews (a fair hash: all of 24 on one is a 1 in 8 million chance).
    for (let k = 0; k < 24 && used.size < 2; k++) {
      const iv = await createInterview(nodes[0]!, `Interview ${k}`);
      const id = iv.interview.id;
      for (const [role, transports] of [
        ['interviewer', ['websocket']],
        ['candidate', ['polling']],
        ['observer', ['polling', 'websocket']],
      ] as const) {
        // As the browser client connects (client/src/connection.ts): the interview in the query.
        const socket: DuetClientSocket = ioc(front, { auth: { token: await iv.invite(role) }, query: { interview: id }, transports: [...transports], forceNew: true });
        onTestFinished(() => void socket.disconnect());
        await nextEvent(socket, 'session');
      }
      const holding = nodes.flatMap((n, i) => ([...n.server.ctx.io.of('/').sockets.values()].some((s) => s.data.interviewId === id) ? [i] : []));
      expect(holding).toHaveLength(1);
      used.add(holding[0]!);
    }
    // Certain with ip_hash, every request coming from one address.
    expect(used.size).toBe(2);
  });

  it("lets a browser in on whatever address and port it opened, and invite links name that address", { timeout: 60_000 }, async () => {
    // No PUBLIC_URL, as compose runs by default: the nodes go by the Host nginx passes on.
    const { nodes } = await startCluster(2);
    const front = await startNginx(nodes);
    const iv = await createInterview(nodes[0]!, 'Behind nginx');
    const invite = await api(front, `/api/interviews/${iv.interview.id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    expect(invite.status).toBe(201);
    expect(invite.body.url).toMatch(new RegExp(`^${front}/room/${iv.interview.id}#token=`));
    for (const transports of [['websocket'], ['polling']]) {
      // A page's handshake carries its Origin, which the node checks against the Host (port included).
      const socket: DuetClientSocket = ioc(front, {
        auth: { token: invite.body.token },
        query: { interview: iv.interview.id },
        transports,
        extraHeaders: { origin: front },
        forceNew: true,
      });
      onTestFinished(() => void socket.disconnect());
      await nextEvent(socket, 'session');
    }
  });
});
