/** Liveness, readiness and Prometheus metrics. */
import { Router } from 'express';
import type { ServerContext } from '../context.js';

export type ReadinessCheck = () => Promise<void>;

/** A check's own verdict ("shutting down", "warming up"), shown as is; any other failure shows as "unreachable". */
export class NotReady extends Error {}

/** `metricsText`, when given, replaces this node's registry on /metrics (cluster mode: every worker's, merged). */
export function healthRouter(ctx: ServerContext, metricsText: (() => Promise<string>) | undefined, checks: Record<string, ReadinessCheck>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          results[name] = 'ok';
        } catch (err) {
          ready = false;
          results[name] = err instanceof NotReady ? err.message : 'unreachable';
        }
      }),
    );
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: results });
  });
  router.get('/metrics', async (_req, res) => {
    const { registry } = ctx.metrics;
    if (!metricsText) return void res.type(registry.contentType).send(await registry.metrics());
    try {
      res.type(registry.contentType).send(await metricsText());
    } catch (err) {
      // One worker's figures passed off as the machine's would mislead a dashboard more than a failed scrape.
      ctx.log.warn({ err }, 'cluster metrics unavailable');
      res.status(503).type('text/plain').send(`cluster metrics unavailable: ${(err as Error).message}\n`);
    }
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}
