/**
 * A node that dies logs no `leave` for its connections. The nodes left log
 * one (`data.lost`) for each connection of an interview that no live node
 * holds, once a client that has the document comes back to it, and none for
 * connections a live node holds.
 * A dead node's connection is written into the log here as the node would
 * have left it: a `join` whose socket no node has.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from './fixtures/multi-node.js';
import { connectClient, createInterview, waitFor } from './helpers.js';

describe('connections a dead node took with it', () => {
  it('are logged as left by a live node once a client comes back; connections live nodes hold are not', async () => {
    const { nodes } = await startCluster(2, {}, { lostConnectionSweepMs: 200 });
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const iv = await createInterview(n0);
    const id = iv.interview.id;
    const cy = await connectClient(n0.url, await iv.invite('candidate', 'Cy'));
    const ada = await connectClient(n1.url, await iv.invite('interviewer', 'Ada'));
    const store = n0.server.ctx.store;
    const cyActor = (await store.readEvents(id, { type: 'join' })).find((e) => e.actor.name === 'Cy')!.actor;
    // Cy's other tab, on a node that died: its join is in the log, its socket nowhere.
    await n0.server.ctx.writer.append(id, { type: 'join', at: new Date().toISOString(), actor: cyActor, data: { conn: 'socket-of-a-dead-node' } });

    // A fresh joiner is no sign of a dead node: nothing is looked for.
    const obi = await connectClient(n1.url, await iv.invite('observer', 'Obi'));
    const leaves = async () => store.readEvents(id, { type: 'leave' });
    await new Promise((r) => setTimeout(r, 800));
    expect(await leaves()).toEqual([]);

    // A client coming back with the document is: Ada's reconnection (her old connection left, as usual).
    const adaBefore = ada.socket.id;
    ada.socket.disconnect();
    ada.socket.connect();
    await waitFor(async () => (await leaves()).some((e) => e.data.lost === true), 5000);
    // Every node has had its turn.
    await new Promise((r) => setTimeout(r, 800));
    const logged = await leaves();
    expect(logged.map((e) => [e.actor.name, e.data.conn, e.data.lost ?? false]).sort()).toEqual(
      [
        ['Ada', adaBefore, false],
        ['Cy', 'socket-of-a-dead-node', true],
      ].sort(),
    );
    // The live ones are all still open in the log.
    const joins = await store.readEvents(id, { type: 'join' });
    expect(joins.map((e) => e.data.conn)).toEqual(expect.arrayContaining([cy.socket.id, ada.socket.id, obi.socket.id]));
    expect(ada.socket.id).not.toBe(adaBefore);
  });
});
