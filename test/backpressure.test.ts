/**
 * Fault drill: a slow reader. A client that stops reading its socket while
 * others type must not make the node buffer without bound: past
 * SOCKET_SEND_BUFFER_BYTES its transport is cut, everyone else carries on, and
 * the slow client, once it reads again, reconnects and converges.
 *
 * What is measured is the node's own buffer for that socket (engine.io's
 * write buffer plus the WebSocket's unsent bytes), read from the outside at
 * every packet queued for it, not the guard's own accounting.
 */
import type { Socket as ServerSocket } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { connectClient, createInterview, mainFile, startNode, waitFor, type TestClient, type TestNode } from './helpers.js';

const LIMIT = 1024 * 1024;
const CHUNK = 'abcdefghij'.repeat(5000); // 50 KB per update

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Unsent bytes the node holds for one socket. */
function unsent(socket: ServerSocket): number {
  const conn = socket.conn as any;
  let queued = 0;
  for (const p of conn.writeBuffer ?? []) queued += sizeOf(p.data);
  return queued + (conn.transport?.socket?.bufferedAmount ?? 0);
}

function serverSocketOf(node: TestNode, sub: string): ServerSocket {
  const s = [...node.server.ctx.io.of('/').sockets.values()].find((x) => x.data.actor?.sub === sub);
  if (!s) throw new Error(`no server socket for ${sub}`);
  return s as unknown as ServerSocket;
}

/** Stops reading the client's TCP socket: the kernel buffers fill, then the node's. */
function stopReading(client: TestClient): { resume(): void } {
  const ws = (client.socket.io.engine as any).transport.ws;
  ws.pause();
  return { resume: () => ws.resume() };
}

/** Types `n` big edits (insert then delete, so the document stays small), each acknowledged. */
async function typeBursts(writer: TestClient, n: number, stop: () => boolean = () => false): Promise<number> {
  let sent = 0;
  for (let i = 0; i < n && !stop(); i++) {
    const text = mainFile(writer);
    if (i % 2 === 0) text.insert(0, CHUNK);
    else text.delete(0, CHUNK.length);
    sent++;
    await waitFor(() => writer.provider.pending === 0, 10_000, 2);
  }
  return sent;
}

async function setUp(overrides: Parameters<typeof startNode>[0]) {
  // The writer pastes and deletes far faster than a person may (the write budget): what is tested here is the reader.
  const node = await startNode({ writeBytesPerSecond: 2 ** 30, writeBytesBurst: 2 ** 30, ...overrides });
  const iv = await createInterview(node);
  const writer = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
  const bystander = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
  const slowToken = await iv.invite('observer', 'Slow');
  const slow = await connectClient(node.url, slowToken);
  const slowSub = slow.provider.session!.you.sub;
  const server = serverSocketOf(node, slowSub);
  let peak = 0;
  (server.conn as any).on('packetCreate', (p: { data?: unknown }) => {
    // packetCreate fires before the packet joins the write buffer.
    peak = Math.max(peak, unsent(server) + sizeOf(p.data));
  });
  let reason: string | undefined;
  server.on('disconnect', (r) => (reason = r));
  return { node, iv, writer, bystander, slow, server, peak: () => peak, reason: () => reason };
}

describe('a slow reader', () => {
  it('is dropped once the node holds SOCKET_SEND_BUFFER_BYTES for it; the others carry on and it converges after reading again', async () => {
    const t = await setUp({ socketSendBufferBytes: LIMIT });
    const paused = stopReading(t.slow);

    // Up to ~40 MB of broadcasts: far past the kernel's loopback buffers and the limit.
    const sent = await typeBursts(t.writer, 800, () => t.reason() !== undefined);
    if (process.env.DUET_REPORT) console.log(`slow reader dropped after ${sent} edits (~${sent * 50} KB), peak unsent ${t.peak()} bytes, reason ${t.reason()}`);
    expect(t.reason()).toBeDefined();
    expect(sent).toBeLessThan(800);
    // Bounded: the limit plus at most the packet that crossed it.
    expect(t.peak()).toBeLessThanOrEqual(LIMIT + CHUNK.length + 1024);

    // The bystander never noticed: it has every edit and keeps editing.
    await waitFor(() => t.bystander.text() === t.writer.text(), 10_000);
    mainFile(t.bystander).insert(0, 'still here\n');
    await waitFor(() => t.writer.text().startsWith('still here\n'), 10_000);

    // The slow client reads again: it finds its transport gone, reconnects and resyncs.
    paused.resume();
    await waitFor(() => t.slow.text() === t.writer.text(), 20_000, 20);
    expect(t.slow.provider.session?.you.name).toBe('Slow');
  });

  it('without the guard biting (a 64 MB limit), the same reader makes the node buffer far past 1 MB', async () => {
    const t = await setUp({ socketSendBufferBytes: 64 * 1024 * 1024 });
    const paused = stopReading(t.slow);
    await typeBursts(t.writer, 800, () => t.peak() > 4 * LIMIT);
    // The control shows the drill is real: the reader really stops reading and the node really buffers.
    expect(t.peak()).toBeGreaterThan(4 * LIMIT);
    expect(t.reason()).toBeUndefined();
    paused.resume();
    await waitFor(() => t.slow.text() === t.writer.text(), 20_000, 20);
  });
});
