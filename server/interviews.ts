/**
 * Interview lifecycle and access rules, shared by REST and the realtime layer.
 */
import { DuetError } from '../shared/errors.js';
import { LANGUAGES, DEFAULT_LANGUAGE, type Language } from '../shared/languages.js';
import type { Actor, Interview, InterviewChange } from '../shared/protocol.js';
import { newerInterview } from '../shared/interview-copies.js';
import { can } from '../shared/roles.js';
import { recordIdSchema, type TokenClaims } from '../shared/schemas.js';
import { randomId } from './auth.js';
import { channelOf, type ServerContext } from './context.js';
import { stopRunAfterEnd, stopRunBeforeEnd } from './realtime/runs.js';
import { seedMainDoc } from './rooms/yjs-checks.js';

export function actorOf(claims: TokenClaims): Actor {
  return { sub: claims.sub, name: claims.name, role: claims.role };
}

/**
 * May this token act on this interview at all? A scoped token acts only on its
 * interview; an unscoped interviewer token on those it created; admin on all.
 */
export function assertAccess(claims: TokenClaims, interview: Interview): void {
  if (claims.iid !== undefined) {
    if (claims.iid !== interview.id) throw new DuetError('forbidden', 'this token is for another interview');
    return;
  }
  if (claims.role === 'admin') return;
  if (claims.role === 'interviewer' && interview.createdBy.sub === claims.sub) return;
  throw new DuetError('forbidden', 'this token has no access to this interview');
}

export async function loadInterview(ctx: ServerContext, claims: TokenClaims, id: string): Promise<Interview> {
  // A scoped token learns nothing about other interviews, not even whether they exist.
  if (claims.iid !== undefined && claims.iid !== id) throw new DuetError('forbidden', 'this token is for another interview');
  // An id Duet could not have made names nothing, and is not looked up.
  const interview = recordIdSchema.safeParse(id).success ? await ctx.store.getInterview(id) : undefined;
  if (!interview) throw new DuetError('not_found', 'no such interview');
  assertAccess(claims, interview);
  return interview;
}

export async function createInterview(
  ctx: ServerContext,
  creator: Actor,
  input: { title: string; language?: Language | undefined; starterCode?: string | undefined },
): Promise<Interview> {
  const language = input.language ?? DEFAULT_LANGUAGE;
  const at = new Date().toISOString();
  const id = randomId();
  // The server seeds `main` so clients never race to create the first file,
  // with the question's starter code in it: the log's first event, so the
  // replay opens on it and credits it to the creator (not a candidate's paste).
  // Only what Monaco's model keeps as it is, or the editors' offsets would not
  // be the Y.Text's: one kind of line end (a model has one for the whole
  // file), and no byte order mark at the start (a model drops it).
  const seed = seedMainDoc(LANGUAGES[language].file, input.starterCode?.replace(/\r\n?/g, '\n').replace(/^\uFEFF/, ''));
  return ctx.store.createInterview(
    { id, title: input.title, language, createdAt: at, createdBy: creator },
    // The seed carries the first language, so a replay of the log alone knows it.
    [{ type: 'doc', at, actor: creator, doc: 'main', bin: seed, data: { doc: 'main', language } }],
  );
}

/** Ends the interview once; ending an ended interview returns it unchanged. */
export async function endInterview(ctx: ServerContext, actor: Actor, interview: Interview): Promise<Interview> {
  if (interview.status === 'ended') return interview;
  await stopRunBeforeEnd(ctx, interview.id, actor);
  const at = new Date().toISOString();
  let ended: Interview;
  try {
    ({ interview: ended } = await ctx.writer.append(
      interview.id,
      { type: 'end', at, actor, data: {} },
      { status: 'ended', endedAt: at },
    ));
  } catch (err) {
    if (err instanceof DuetError && err.code === 'interview_ended') {
      return (await ctx.store.getInterview(interview.id)) ?? interview;
    }
    throw err;
  }
  stopRunAfterEnd(ctx, interview.id, actor);
  await publishInterview(ctx, ended, { kind: 'end', by: actor, at });
  return ended;
}

export async function changeLanguage(ctx: ServerContext, actor: Actor, interviewId: string, language: Language): Promise<Interview> {
  if (!can.changeLanguage(actor.role)) throw new DuetError('forbidden', 'your role cannot change the language');
  const at = new Date().toISOString();
  const { interview } = await ctx.writer.append(interviewId, { type: 'language', at, actor, data: { language } }, { language });
  await publishInterview(ctx, interview, { kind: 'language', by: actor, at });
  return interview;
}

/** Tells every node's sockets in the interview, and refreshes this node's cached copy. */
async function publishInterview(ctx: ServerContext, interview: Interview, change: InterviewChange): Promise<void> {
  const room = await ctx.rooms.peek(interview.id);
  // Two changes on this node can get here out of order (their commits and this read overlap).
  if (room) room.interview = newerInterview(room.interview, interview);
  ctx.io.to(channelOf.all(interview.id)).emit('interview', interview, change);
}
