/** Room chat for everyone live, panel chat for interviewers and observers only. */
import { DuetError } from '../../shared/errors.js';
import type { ChatMessage } from '../../shared/protocol.js';
import { can, CHAT_CHANNELS, type Role } from '../../shared/roles.js';
import { chatSendSchema } from '../../shared/schemas.js';
import { channelOf, type ServerContext } from '../context.js';
import type { StoredEvent } from '../store/store.js';
import { handler, type Handlers } from './handle.js';
import { spendWriteBudget } from './person-budgets.js';

export function chatMessageOf(event: StoredEvent): ChatMessage {
  return {
    id: String(event.seq),
    at: event.at,
    channel: event.data.channel === 'panel' ? 'panel' : 'room',
    from: event.actor,
    text: String(event.data.text),
  };
}

export function visibleChannels(role: Role) {
  return CHAT_CHANNELS.filter((c) => can.readChat(role, c));
}

export function chatHandlers(ctx: ServerContext): Handlers {
  return {
    'chat:send': handler(chatSendSchema, async (socket, { channel, text }) => {
      const { actor, interviewId } = socket.data;
      if (!can.sendChat(actor.role, channel)) throw new DuetError('forbidden', `your role cannot send ${channel} chat`);
      spendWriteBudget(ctx.config, await socket.data.room, socket, Buffer.byteLength(text));
      const at = new Date().toISOString();
      const { event } = await ctx.writer.append(interviewId, { type: 'chat', at, actor, data: { channel, text } });
      const message = chatMessageOf(event);
      const target = channel === 'room' ? channelOf.all(interviewId) : channelOf.panel(interviewId);
      socket.to(target).emit('chat:message', message);
      return { message };
    }),
  };
}
