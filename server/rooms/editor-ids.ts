/**
 * Who writes under each Yjs client id of a document. Yjs trusts the id an
 * update's structs carry, and keeps whichever struct for an id and clock
 * arrives first: a participant who sent structs under another's id, ahead of
 * them, would make that person's next keystrokes vanish for everyone else
 * while their own screen kept them (and the log, and so the replay, would
 * have the impostor's instead). So the first person to write under an id
 * owns it, in the log's order, and a node refuses anyone else's new structs
 * under it (server/realtime/documents.ts).
 *
 * A node learns the owners from the log as it reads or commits it, and from
 * the snapshot it loads, which stores them (migration 0004): an id's first
 * structs are always its owner's own commit, since nobody else can know a
 * client id before that commit is broadcast.
 */
import * as Y from 'yjs';

export class EditorIds {
  private readonly owners = new Map<number, string>();

  constructor(known?: ReadonlyArray<readonly [number, string]>) {
    for (const [client, sub] of known ?? []) this.owners.set(client, sub);
  }

  ownerOf(client: number): string | undefined {
    return this.owners.get(client);
  }

  /** A logged update of `sub`'s, in the log's order: the ids it is the first to write under are theirs. */
  learn(update: Uint8Array, sub: string): void {
    let from: Map<number, number>;
    try {
      ({ from } = Y.parseUpdateMeta(update));
    } catch {
      // Logged before the checks read it this way; it owns nothing.
      return;
    }
    for (const client of from.keys()) if (!this.owners.has(client)) this.owners.set(client, sub);
  }

  /** Stored with a snapshot of the document. */
  entries(): Array<[number, string]> {
    return [...this.owners];
  }
}
