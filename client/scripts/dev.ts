/**
 * `npm run dev`: the node with restart-on-change (tsx watch) plus Vite's dev
 * server with hot reload, which forwards /api and /socket.io to the node.
 * Open the Vite URL; invite links made through it point back at it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createServer } from 'vite';

const ROOT = join(import.meta.dirname, '..', '..');
const nodePort = Number(process.env.PORT ?? 3000);
process.env.DUET_NODE_URL ??= `http://localhost:${nodePort}`;

const node = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['watch', join(ROOT, 'server', 'main.ts')], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, PORT: String(nodePort) },
});

const vite = await createServer({ configFile: join(ROOT, 'client', 'vite.config.ts') });
await vite.listen();
vite.printUrls();
console.log(`  ➜  Node:    ${process.env.DUET_NODE_URL} (API and Socket.IO, proxied by the URL above)`);

const stop = () => {
  node.kill('SIGTERM');
  void vite.close().finally(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
node.on('exit', (code) => {
  if (code !== null && code !== 0) console.error(`node exited with ${code}`);
});
