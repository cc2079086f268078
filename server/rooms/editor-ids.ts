/**
 * Who writes under each Yjs client id of an interview's documents. Yjs trusts
 * the id an update's structs carry, and keeps whichever struct for an id and
 * clock arrives first: a participant who sent structs under another's id,
 * ahead of them, would make that person's next keystrokes vanish for everyone
 * else while their own screen kept them (and the log, so the replay, would
 * hold the impostor's text instead).
 *
 * So an id is claimed, in the store, before anyone else can learn it: when
 * its page first announces its cursor under it (awareness.ts relays the state
 * only once the claim is in) or first writes under it (documents.ts, before
 * the commit that broadcasts it). The first claim holds across nodes (the
 * table's key), and a node refuses anyone else's new structs under the id.
 * Each room keeps the answers it has had; an id is only ever claimed once.
 */
import type { DocName } from '../../shared/roles.js';
import type { Store } from '../store/store.js';

export class EditorIds {
  private readonly known: Record<DocName, Map<number, string>> = { main: new Map(), notes: new Map() };
  private readonly claims = new Map<string, Promise<string>>();

  constructor(
    private readonly store: Store,
    private readonly interviewId: string,
  ) {}

  /** Whose the id is, as far as this node has asked. */
  ownerKnown(doc: DocName, client: number): string | undefined {
    return this.known[doc].get(client);
  }

  /**
   * Claims the id for `sub` unless it is someone's already; answers whose it
   * is. `charge` is called (and may throw) only when the database is asked.
   */
  claim(doc: DocName, client: number, sub: string, charge: () => void): Promise<string> {
    const cached = this.known[doc].get(client);
    if (cached !== undefined) return Promise.resolve(cached);
    const key = `${doc}:${client}`;
    // One claim at a time per id: a second asked meanwhile has the first's answer.
    const before = this.claims.get(key) ?? Promise.resolve(undefined);
    const answer: Promise<string> = before
      .catch(() => undefined)
      .then((owner) => {
        if (owner !== undefined) return owner;
        charge();
        return this.store.claimEditorId(this.interviewId, doc, client, sub, new Date().toISOString());
      })
      .then((owner) => {
        this.known[doc].set(client, owner);
        return owner;
      })
      .finally(() => {
        if (this.claims.get(key) === answer) this.claims.delete(key);
      });
    this.claims.set(key, answer);
    return answer;
  }
}
