/**
 * Serves the built browser client (dist/client): hashed assets cached for a
 * year, pages never cached so a deploy is picked up at once, and the app's
 * routes (/, /room/:id, /replay/:id) answered with index.html.
 */
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import express, { Router } from 'express';

export function clientRouter(clientDir: string): Router {
  const router = Router();
  const index = join(clientDir, 'index.html');
  // The client build writes a .gz beside each large asset (client/vite.config.ts):
  // served as-is to browsers that take gzip, so Monaco costs ~1 MB on the wire, not ~4.
  router.use('/assets', (req, res, next) => {
    const file = join(clientDir, 'assets', basename(req.path));
    if (!req.acceptsEncodings('gzip') || !existsSync(`${file}.gz`)) return next();
    res.vary('Accept-Encoding');
    res.type(extname(file));
    res.sendFile(`${file}.gz`, { immutable: true, maxAge: '365d', headers: { 'Content-Encoding': 'gzip' } });
  });
  router.use(
    '/assets',
    express.static(join(clientDir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }),
  );
  router.use(express.static(clientDir, { index: false, maxAge: 0 }));
  router.get(['/', '/room/:id', '/replay/:id'], (_req, res) => {
    res.set('Cache-Control', 'no-cache');
    if (existsSync(index)) res.sendFile(index);
    else res.status(503).type('text/plain').send('The browser client is not built yet: run `npm run build`.\n');
  });
  return router;
}
