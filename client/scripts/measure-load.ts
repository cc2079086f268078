/**
 * Time to an editable editor, measured: a real node, Debian's Chromium, a
 * candidate invite opened 5 times with a fresh profile (cold cache) and then
 * reloaded (warm cache). The page marks `duet:editable` when the shared
 * document is synced into Monaco; the time is from navigation start.
 *
 *   npx tsx client/scripts/measure-load.ts
 */
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createServer } from '../../server/app.js';
import { defaultConfig } from '../../server/config.js';
import { CLIENT_DIST, ensureClientBuilt } from './ensure-built.js';

await ensureClientBuilt({ quiet: true });
const dataDir = mkdtempSync(join(tmpdir(), 'duet-measure-'));
const config = defaultConfig({ port: 0, host: '127.0.0.1', dataDir, jwtSecret: 'x'.repeat(40), logLevel: 'silent' });
const server = await createServer(config, { logger: pino({ level: 'silent' }), clientDir: CLIENT_DIST, shutdownTimeoutMs: 500 });
const { url } = await server.listen(0, '127.0.0.1');
const owner = await server.ctx.tokens.sign({ sub: 'ada', name: 'Ada', role: 'interviewer' }, 3600);
const iv = await (await fetch(url + '/api/interviews', { method: 'POST', headers: { authorization: 'Bearer ' + owner, 'content-type': 'application/json' }, body: JSON.stringify({ title: 't', language: 'python' }) })).json();
const inv = await (await fetch(`${url}/api/interviews/${iv.id}/invites`, { method: 'POST', headers: { authorization: 'Bearer ' + iv.token, 'content-type': 'application/json' }, body: JSON.stringify({ role: 'candidate', name: 'Cy' }) })).json();
const args = ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'];
const cold: number[] = [], warm: number[] = [];
let bytes = 0;
for (let i = 0; i < 5; i++) {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'duet-prof-')), { executablePath: '/usr/bin/chromium', headless: true, args, viewport: { width: 1280, height: 720 } });
  const page = await ctx.newPage();
  let b = 0;
  page.on('response', async (r) => { const len = Number(r.headers()['content-length'] ?? 0); b += len; });
  for (const list of [cold, warm]) {
    await page.goto(`${url}/room/${iv.id}#token=${inv.token}`);
    await page.waitForFunction(() => (globalThis as any).performance.getEntriesByName('duet:editable').length > 0, undefined, { timeout: 30000 });
    list.push(await page.evaluate(() => (globalThis as any).performance.getEntriesByName('duet:editable')[0].startTime));
    if (list === cold) bytes = b;
  }
  await ctx.close();
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({ cold, warm, coldMedian: med(cold), warmMedian: med(warm), transferredColdBytes: bytes }));
await server.close();
process.exit(0);
