/**
 * `signal:report`: integrity signals (a large paste, the editor losing focus,
 * the tab hidden) reported by the candidate's own client. Each one goes into
 * the event log as a `signal` event, for the replay timeline, and to the
 * panel channel (interviewers and observers), never back to the candidate.
 */
import { DuetError } from '../../shared/errors.js';
import type { SignalNotice } from '../../shared/protocol.js';
import { can } from '../../shared/roles.js';
import { signalReportSchema } from '../../shared/schemas.js';
import { channelOf, type ServerContext } from '../context.js';
import { handler, type Handlers } from './handle.js';
import { takeSignal } from './person-budgets.js';

export function signalHandlers(ctx: ServerContext): Handlers {
  return {
    'signal:report': handler(signalReportSchema, async (socket, report) => {
      const { actor, interviewId } = socket.data;
      if (!can.reportSignal(actor.role)) throw new DuetError('forbidden', 'only the candidate reports integrity signals');
      // On top of the socket's general limit: a flapping tab must not fill the log.
      takeSignal(await socket.data.room, socket);
      const at = new Date().toISOString();
      const data: Record<string, unknown> = { kind: report.kind };
      if (report.size !== undefined) data.size = report.size;
      if (report.path !== undefined) data.path = report.path;
      const { event } = await ctx.writer.append(interviewId, { type: 'signal', at, actor, data });
      const notice: SignalNotice = { id: String(event.seq), at, from: actor, ...report };
      ctx.io.to(channelOf.panel(interviewId)).emit('signal', notice);
      return { ok: true };
    }),
  };
}
