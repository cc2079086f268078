/**
 * Serves the built browser client (dist/client): hashed assets cached for a
 * year, pages never cached so a deploy is picked up at once, and the app's
 * routes (/, /room/:id, /replay/:id) answered with index.html.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';

export function clientRouter(clientDir: string): Router {
  const router = Router();
  const index = join(clientDir, 'index.html');
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
