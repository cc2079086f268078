/** `interview:language`: interviewers and candidates switch the language for everyone. */
import { languageSchema } from '../../shared/schemas.js';
import type { ServerContext } from '../context.js';
import { changeLanguage } from '../interviews.js';
import { registerHandler } from './handle.js';
import type { DuetSocket } from './socket-data.js';
import type { TokenBucket } from './token-bucket.js';

export function registerInterviewEvents(ctx: ServerContext, socket: DuetSocket, bucket: TokenBucket): void {
  registerHandler(ctx, socket, bucket, 'interview:language', languageSchema, async ({ language }) => {
    await changeLanguage(ctx, socket.data.actor, socket.data.interviewId, language);
    return { ok: true };
  });
}
