/**
 * Export of one interview's record, for hiring panels and deletion requests:
 *   GET /api/interviews/:id/export     one JSON file, streamed page by page
 *   GET /api/interviews/:id/files.zip  the final files
 *   DELETE /api/interviews/:id         the interview and everything it owns
 * (docs/replay.md, docs/protocol.md).
 */
import type { Response, Router } from 'express';
import * as Y from 'yjs';
import { DuetError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { applyUpdateCut } from '../../shared/yjs-overlap.js';
import { can } from '../../shared/roles.js';
import { noBodySchema, type TokenClaims } from '../../shared/schemas.js';
import type { ServerContext } from '../context.js';
import { actorOf, loadInterview } from '../interviews.js';
import { parseOrThrow } from '../realtime/handle.js';
import { safeEntryNames, zip } from '../replay/zip.js';
import { deleteInterview } from '../retention.js';
import { filesOf } from '../rooms/yjs-checks.js';
import { logLevelOf } from '../store/unreachable.js';
import { claimsOf } from './authenticate.js';
import { toLoggedEvent } from './api.js';

const PAGE = 1000;
export const EXPORT_FORMAT = 'duet-export/1';

/** A file name safe in a Content-Disposition header. */
function attachment(res: Response, name: string): void {
  res.setHeader('content-disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`);
}

/** A client that takes nothing for this long is cut off: the export holds memory for it meanwhile. */
const STALLED_MS = 60_000;

/**
 * Writes, waiting for the client to take it; returns at once when the client
 * is gone (a `drain` never comes then), and cuts off one that stalls.
 */
async function write(res: Response, chunk: string): Promise<void> {
  if (res.write(chunk) || res.destroyed) return;
  await new Promise<void>((resolve) => {
    const stalled = setTimeout(() => res.destroy(new Error('the client stopped reading the export')), STALLED_MS);
    const done = () => {
      clearTimeout(stalled);
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Exports one person may stream at once, on a node: each holds a page of the
 * log (up to 8 MiB) and the documents being rebuilt for as long as its client
 * takes to read, and the REST limit counts requests, not how long they last.
 */
const EXPORTS_PER_PERSON = 2;

export function registerExportRoutes(api: Router, ctx: ServerContext): void {
  const streaming = new Map<string, number>();
  api.get('/interviews/:id/export', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.readRecord(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot export interviews`);
    const mine = streaming.get(claims.sub) ?? 0;
    if (mine >= EXPORTS_PER_PERSON) {
      res.set('Retry-After', '5');
      throw new DuetError('rate_limited', `${EXPORTS_PER_PERSON} exports are already streaming to you; retry when one has finished`);
    }
    streaming.set(claims.sub, mine + 1);
    try {
      await streamExport(ctx, claims, req.params.id, res);
    } finally {
      const left = (streaming.get(claims.sub) ?? 1) - 1;
      if (left > 0) streaming.set(claims.sub, left);
      else streaming.delete(claims.sub);
    }
  });

  api.get('/interviews/:id/files.zip', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.readRecord(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot download files`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    const files = await ctx.finalFiles.of(interview.id);
    const paths = Object.keys(files);
    const names = safeEntryNames(paths);
    const body = zip(
      paths.map((p, i) => ({ name: `${interview.id}/${names[i]}`, data: Buffer.from(files[p]!, 'utf8') })),
      new Date(interview.endedAt ?? Date.now()),
    );
    res.setHeader('content-type', 'application/zip');
    res.setHeader('cache-control', 'no-store');
    attachment(res, `duet-${interview.id}-files.zip`);
    res.end(body);
  });

  api.delete('/interviews/:id', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.deleteInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot delete interviews`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    // Only the interviewer who created it (or an admin), not any interviewer it invited.
    if (claims.role !== 'admin' && interview.createdBy.sub !== claims.sub) {
      throw new DuetError('forbidden', 'only the interviewer who created the interview (or an admin) can delete it');
    }
    parseOrThrow(noBodySchema, req.body ?? {});
    if (!(await deleteInterview(ctx, interview.id, actorOf(claims)))) throw new DuetError('not_found', 'no such interview');
    res.status(204).end();
  });
}

async function streamExport(ctx: ServerContext, claims: TokenClaims, id: string, res: Response): Promise<void> {
  const interview = await loadInterview(ctx, claims, id);
  const participants = await ctx.store.listParticipants(interview.id);
  // Read before the headers go out, so a dead store still gets a proper error.
  const readPage = (after: number) => ctx.store.readEventPage(interview.id, { after, limit: PAGE, maxBytes: LIMITS.eventsPageBytes });
  let page = await readPage(0);

  res.status(200);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  attachment(res, `duet-${interview.id}.json`);
  // The final files are rebuilt from the events as they stream: one pass, one page in memory.
  const main = new Y.Doc();
  const notes = new Y.Doc();
  try {
    const head = {
      format: EXPORT_FORMAT,
      exportedAt: new Date().toISOString(),
      exportedBy: { sub: claims.sub, name: claims.name, role: claims.role },
      interview,
      participants,
    };
    await write(res, `${JSON.stringify(head).slice(0, -1)},"events":[`);
    let first = true;
    while (page.events.length > 0 && !res.destroyed) {
      let chunk = '';
      for (const e of page.events) {
        if (e.type === 'doc' && e.bin) applyUpdateCut(e.doc === 'notes' ? notes : main, e.bin);
        chunk += (first ? '\n' : ',\n') + JSON.stringify(toLoggedEvent(e));
        first = false;
      }
      await write(res, chunk);
      if (!page.more || res.destroyed) break;
      page = await readPage(page.events[page.events.length - 1]!.seq);
    }
    if (!res.destroyed) res.end(`\n],"files":${JSON.stringify(filesOf(main))},"notes":${JSON.stringify(notes.getText('notes').toString())}}\n`);
  } catch (err) {
    // Headers are gone: all we can do is cut the download short, so it cannot pass for complete.
    ctx.log[logLevelOf(err)]({ err, interviewId: interview.id }, 'export failed');
    res.destroy(err instanceof Error ? err : new Error('export failed'));
  } finally {
    main.destroy();
    notes.destroy();
  }
}
