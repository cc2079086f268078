/** `interview:language`: interviewers and candidates switch the language for everyone. */
import { languageSchema } from '../../shared/schemas.js';
import type { ServerContext } from '../context.js';
import { changeLanguage } from '../interviews.js';
import { handler, type Handlers } from './handle.js';
import { takeLanguageChange } from './person-budgets.js';

export function interviewHandlers(ctx: ServerContext): Handlers {
  return {
    'interview:language': handler(languageSchema, async (socket, { language }) => {
      takeLanguageChange(await socket.data.room, socket);
      // With the interview it made: the page renames the starting file from what this change replaced.
      const interview = await changeLanguage(ctx, socket.data.actor, socket.data.interviewId, language);
      return { ok: true, interview };
    }),
  };
}
