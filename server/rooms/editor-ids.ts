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
  private readonly questions = new Map<string, Promise<string | undefined>>();

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
    return this.ask(doc, client, charge, () => this.store.claimEditorId(this.interviewId, doc, client, sub, new Date().toISOString())) as Promise<string>;
  }

  /** Whose the id is, if anyone's, without claiming it (a cursor's removal claims nothing). */
  owner(doc: DocName, client: number, charge: () => void): Promise<string | undefined> {
    return this.ask(doc, client, charge, () => this.store.editorIdOwner(this.interviewId, doc, client));
  }

  private ask(doc: DocName, client: number, charge: () => void, query: () => Promise<string | undefined>): Promise<string | undefined> {
    const cached = this.known[doc].get(client);
    if (cached !== undefined) return Promise.resolve(cached);
    const key = `${doc}:${client}`;
    // One question at a time per id: a claim asked during a lookup that finds
    // no one claims after it, and one asked after a failed question asks again.
    const before = this.questions.get(key) ?? Promise.resolve(undefined);
    const answer: Promise<string | undefined> = before
      .catch(() => undefined)
      .then((owner) => {
        if (owner !== undefined) return owner;
        charge();
        return query();
      })
      .then((owner) => {
        if (owner !== undefined) this.known[doc].set(client, owner);
        return owner;
      })
      .finally(() => {
        if (this.questions.get(key) === answer) this.questions.delete(key);
      });
    this.questions.set(key, answer);
    return answer;
  }
}
