/**
 * server/realtime/write-coalescing.ts: a binary event is two WebSocket frames,
 * and the node must hand both to the kernel in one write (they were two, the
 * largest share of a node's CPU under load). Counted on the server's own TCP
 * socket for one reader while another client types.
 */
import type { Socket as NetSocket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient, createInterview, mainFile, startNode, waitFor } from './helpers.js';

describe('write coalescing', () => {
  it('sends each binary broadcast to a client in one socket write, frames unchanged', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const reader = await connectClient(node.url, await iv.invite('observer', 'Obi'));
    const writer = await connectClient(node.url, await iv.invite('candidate', 'Cy'));

    const serverSide = node.server.ctx.io.of('/').sockets.get(reader.socket.id!);
    const tcp = (serverSide!.conn as unknown as { transport: { socket: { _socket: NetSocket } } }).transport.socket._socket;
    let writes = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = tcp[method] as (...args: unknown[]) => void;
      (tcp as unknown as Record<string, unknown>)[method] = function (this: NetSocket, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }

    let received = 0;
    reader.socket.on('doc:update', () => received++);
    const edits = 20;
    // One edit at a time, each its own broadcast in its own tick.
    for (let i = 0; i < edits; i++) {
      mainFile(writer).insert(0, `${i % 10}`);
      await waitFor(() => received === i + 1);
    }
    // Two frames per event were two writes each (40 here); one write per event now.
    expect(writes).toBeGreaterThanOrEqual(edits);
    expect(writes).toBeLessThan(edits * 1.5);
    expect(reader.text()).toBe(writer.text());
    expect(reader.text()).toHaveLength(edits);
  });
});
