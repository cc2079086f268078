/** The REST API under /api (see docs/protocol.md). */
import express, { Router, type Request } from 'express';
import { DuetError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { LoggedEvent } from '../../shared/protocol.js';
import { can, type Role } from '../../shared/roles.js';
import { createInterviewSchema, createInviteSchema, eventsQuerySchema, interviewsQuerySchema, noBodySchema, ownTokenSchema } from '../../shared/schemas.js';
import { randomId } from '../auth.js';
import type { ServerContext } from '../context.js';
import { actorOf, createInterview, endInterview, loadInterview } from '../interviews.js';
import { mintInvite, revokeInvite } from '../invites.js';
import { parseOrThrow } from '../realtime/handle.js';
import type { Invite, StoredEvent } from '../store/store.js';
import { authenticate, claimsOf } from './authenticate.js';
import { registerExportRoutes } from './export.js';

export function toLoggedEvent(e: StoredEvent): LoggedEvent {
  const data: Record<string, unknown> = { ...e.data };
  if (e.bin) data.update = Buffer.from(e.bin.buffer, e.bin.byteOffset, e.bin.byteLength).toString('base64');
  return { seq: e.seq, at: e.at, type: e.type, actor: e.actor, data };
}

/** An invite as the API shows it: never its token. */
function publicInvite(invite: Invite) {
  return {
    id: invite.id,
    role: invite.role,
    name: invite.name,
    createdAt: invite.createdAt,
    expiresAt: invite.expiresAt,
    revokedAt: invite.revokedAt,
  };
}

/** Where a token opens its page: the replay for reviewers, the room for everyone else; the token in the fragment. */
function pageUrl(ctx: ServerContext, req: Request, role: Role, interviewId: string, token: string): string {
  const base = ctx.config.publicUrl ?? `${req.protocol}://${req.get('host')}`;
  return `${base}/${role === 'reviewer' ? 'replay' : 'room'}/${interviewId}#token=${token}`;
}

export function apiRouter(ctx: ServerContext): Router {
  const api = Router();
  // Parsed here, the body is not parsed again by the router-wide parser below.
  api.post('/interviews', express.json({ limit: LIMITS.createInterviewBodyBytes, strict: true }));
  api.use(express.json({ limit: LIMITS.httpBodyBytes, strict: true }));
  api.use(authenticate(ctx));

  api.post('/interviews', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.createInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot create interviews`);
    if (claims.iid !== undefined) throw new DuetError('forbidden', 'a token scoped to one interview cannot create interviews');
    const body = parseOrThrow(createInterviewSchema, req.body);
    const creator = actorOf(claims);
    const interview = await createInterview(ctx, creator, body);
    const token = await ctx.tokens.sign(
      { sub: creator.sub, name: creator.name, role: 'interviewer', iid: interview.id, jti: randomId() },
      ctx.config.inviteTtlSeconds,
    );
    res.status(201).json({ ...interview, token });
  });

  api.get('/interviews', async (req, res) => {
    const claims = claimsOf(req);
    const { q, before, limit } = parseOrThrow(interviewsQuerySchema, req.query);
    const titleContains = q || undefined;
    if (claims.iid !== undefined) {
      const interview = await loadInterview(ctx, claims, claims.iid);
      if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot list interviews`);
      // A scoped token's list is its one interview, on the first page only.
      const listed = before === undefined && (titleContains === undefined || interview.title.toLowerCase().includes(titleContains.toLowerCase()));
      res.json({ interviews: listed ? [interview] : [], next: null });
      return;
    }
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot list interviews`);
    res.json(await ctx.store.listInterviews({ ...(claims.role === 'admin' ? {} : { createdBy: claims.sub }), titleContains, before, limit }));
  });

  api.get('/interviews/:id', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.readInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot read interviews`);
    res.json(await loadInterview(ctx, claims, req.params.id));
  });

  api.post('/interviews/:id/invites', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot invite`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    const body = parseOrThrow(createInviteSchema, req.body);
    const { invite, ttl } = await mintInvite(ctx, interview, claims, body);
    const token = await ctx.tokens.sign({ sub: invite.sub, name: invite.name, role: invite.role, iid: interview.id, jti: invite.id }, ttl);
    res.status(201).json({ token, url: pageUrl(ctx, req, body.role, interview.id, token), ...publicInvite(invite) });
  });

  // The caller's own token for one interview: the start page opens a room or a
  // replay as the person signed in, not as a new invitee (who would be a second
  // entry in People and in the replay every time). It lives no longer than the
  // token that asked for it, and carries its `jti`: revoking the invite that
  // token came from revokes this one too.
  api.post('/interviews/:id/token', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot open interviews for itself`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    const { role } = parseOrThrow(ownTokenSchema, req.body ?? {});
    const left = Math.floor(claims.exp - Date.now() / 1000);
    if (left < 1) throw new DuetError('token_expired', 'your token has expired');
    const token = await ctx.tokens.sign(
      { sub: claims.sub, name: claims.name, role, iid: interview.id, ...(claims.jti !== undefined ? { jti: claims.jti } : {}) },
      Math.min(left, ctx.config.inviteTtlSeconds),
    );
    res.status(201).json({ token, url: pageUrl(ctx, req, role, interview.id, token) });
  });

  api.get('/interviews/:id/invites', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot list invites`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    res.json({ invites: (await ctx.store.listInvites(interview.id)).map(publicInvite) });
  });

  api.delete('/interviews/:id/invites/:inviteId', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot revoke invites`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    parseOrThrow(noBodySchema, req.body ?? {});
    const revoked = await revokeInvite(ctx, interview, req.params.inviteId);
    if (!revoked) throw new DuetError('not_found', 'no such invite');
    res.json({ ...publicInvite(revoked.invite), minted: revoked.minted.map(publicInvite) });
  });

  api.post('/interviews/:id/end', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.manageInterview(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot end interviews`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    parseOrThrow(noBodySchema, req.body ?? {});
    res.json(await endInterview(ctx, actorOf(claims), interview));
  });

  api.get('/interviews/:id/document', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.readRecord(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot read the document`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    // Built from the log (snapshot + tail), so it is exactly what is durable.
    res.json({ files: await ctx.finalFiles.of(interview.id) });
  });

  api.get('/interviews/:id/events', async (req, res) => {
    const claims = claimsOf(req);
    if (!can.readRecord(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot read the event log`);
    const interview = await loadInterview(ctx, claims, req.params.id);
    const { after, limit } = parseOrThrow(eventsQuerySchema, req.query);
    const { events, more } = await ctx.store.readEventPage(interview.id, { after, limit, maxBytes: LIMITS.eventsPageBytes });
    res.json({
      events: events.map(toLoggedEvent),
      next: more ? events[events.length - 1]!.seq : null,
    });
  });

  registerExportRoutes(api, ctx);
  return api;
}
