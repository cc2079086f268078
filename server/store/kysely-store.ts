/**
 * The Store on Kysely: one implementation for SQLite and PostgreSQL.
 */
import { Migrator, sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { DuetError } from '../../shared/errors.js';
import { wellFormed } from '../../shared/well-formed.js';
import type { Language } from '../../shared/languages.js';
import type { Actor, EventType, Interview, InterviewStatus } from '../../shared/protocol.js';
import type { DocName, InviteRole, Role } from '../../shared/roles.js';
import { migrationProvider, type Dialect } from './migrations.js';
import type { Database, EventsTable, InterviewsTable, InvitesTable } from './schema.js';
import type {
  AppendGroupItem,
  AppendGroupResult,
  AppendOptions,
  DeadNode,
  EventQuery,
  InterviewListFilter,
  Invite,
  NewEvent,
  NewInterview,
  NodeProcessRecord,
  Snapshot,
  Store,
  StoredEvent,
} from './store.js';

/** Runs a named statement on PostgreSQL (pg prepares it once per connection). */
export type PreparedQuery = <R>(name: string, text: string, values: unknown[]) => Promise<{ rows: R[] }>;

/**
 * The group commit on PostgreSQL, one statement: one round trip and one
 * commit. The MATERIALIZED, ordered FOR UPDATE takes the interviews' row
 * locks in id order whatever plan the UPDATE gets, so two nodes' groups over
 * the same interviews never deadlock. Parameters: $1 interview ids, $2 events
 * per interview, $3 the events as one JSON array of rows [interview id, k,
 * at, type, doc, sub, name, role, data, offset, length], $4 every event's
 * bytes end to end (length -1: none). Two values, not an array per column:
 * with those, held by the query until its answer, a node's old generation
 * grew half as fast again under load (docs/performance.md, change 48).
 */
function appendGroupStatementFor(requireOpen: boolean): { name: string; text: string } {
  return {
    name: requireOpen ? 'duet_append_group_open' : 'duet_append_group',
    text: `
      WITH locked AS MATERIALIZED (
        SELECT id, status FROM interviews WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
      ), bumped AS (
        UPDATE interviews i SET last_seq = i.last_seq + c.n
        FROM locked l JOIN unnest($1::text[], $2::int[]) AS c(id, n) ON c.id = l.id
        WHERE i.id = l.id ${requireOpen ? "AND l.status = 'open'" : ''}
        RETURNING i.*, c.n AS added
      ), inserted AS (
        INSERT INTO events (interview_id, seq, at, type, doc, actor_sub, actor_name, actor_role, data, bin)
        SELECT e->>0, b.last_seq - b.added + (e->>1)::int, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8,
               CASE WHEN (e->>10)::int < 0 THEN NULL ELSE substring($4::bytea FROM (e->>9)::int + 1 FOR (e->>10)::int) END
        FROM json_array_elements($3::json) AS e
        JOIN bumped b ON b.id = e->>0
      )
      SELECT (SELECT json_agg(b) FROM bumped b) AS bumped, (SELECT json_agg(l.id) FROM locked l) AS found`,
  };
}

/** Both variants, built once: the text is the same for every commit. */
const APPEND_GROUP = { open: appendGroupStatementFor(true), any: appendGroupStatementFor(false) };

/**
 * The group's events as APPEND_GROUP's $3 and $4. Built apart from the
 * commit, so that of the events' columns only these two values are held
 * while it waits.
 */
function groupEvents(items: AppendGroupItem[]): [string, Buffer] {
  const events: unknown[] = [];
  const bins: Uint8Array[] = [];
  let offset = 0;
  for (const item of items) {
    item.events.forEach((e, k) => {
      const row = eventRow(item.interviewId, 0, e);
      const length = row.bin ? row.bin.byteLength : -1;
      events.push([row.interview_id, k + 1, row.at, row.type, row.doc, row.actor_sub, row.actor_name, row.actor_role, row.data, offset, length]);
      if (row.bin) {
        bins.push(row.bin);
        offset += length;
      }
    });
  }
  return [JSON.stringify(events), Buffer.concat(bins, offset)];
}

/** One document's snapshot rows, as a condition for a select, an update or a delete. */
function snapshotsOf(interviewId: string, doc: DocName) {
  return (eb: ExpressionBuilder<Database, 'snapshots'>) => eb.and([eb('interview_id', '=', interviewId), eb('doc', '=', doc)]);
}

function toInterview(row: Selectable<InterviewsTable>): Interview {
  return {
    id: row.id,
    title: row.title,
    language: row.language as Language,
    status: row.status as InterviewStatus,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    createdBy: { sub: row.created_by_sub, name: row.created_by_name },
    // Bumped in the same statement as any change of the row: the copy holds every change up to it.
    seq: Number(row.last_seq),
  };
}

function toInvite(row: Selectable<InvitesTable>): Invite {
  return {
    id: row.id,
    interviewId: row.interview_id,
    role: row.role as InviteRole,
    name: row.name,
    sub: row.sub,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    createdBy: row.created_by_sub,
    revokedAt: row.revoked_at,
  };
}

function toEvent(row: Omit<Selectable<EventsTable>, 'interview_id'>): StoredEvent {
  const event: StoredEvent = {
    seq: Number(row.seq),
    at: row.at,
    type: row.type as EventType,
    actor: { sub: row.actor_sub, name: row.actor_name, role: row.actor_role as Role },
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
  if (row.doc !== null) event.doc = row.doc as DocName;
  if (row.bin !== null) event.bin = new Uint8Array(row.bin.buffer, row.bin.byteOffset, row.bin.byteLength);
  return event;
}

function eventRow(interviewId: string, seq: number, e: NewEvent) {
  return {
    interview_id: interviewId,
    seq,
    at: e.at,
    type: e.type,
    doc: e.doc ?? null,
    // Token claims arrive well-formed (shared/schemas.ts); this is for any
    // other caller, since one lone surrogate here would fail a whole group.
    actor_sub: wellFormed(e.actor.sub),
    actor_name: wellFormed(e.actor.name),
    actor_role: e.actor.role,
    data: JSON.stringify(e.data),
    bin: e.bin ?? null,
  };
}

export class KyselyStore implements Store {
  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    /** PostgreSQL schema holding the tables: the migration bookkeeping goes there too. */
    private readonly schema?: string,
    /** PostgreSQL: runs a named (prepared once per connection) statement, for the hot group commit. */
    private readonly prepared?: PreparedQuery,
  ) {}

  /** To the latest schema; `upTo` stops after the migration of that name (tests of an upgrade start there). */
  async migrate(upTo?: string): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.kind),
      ...(this.schema ? { migrationTableSchema: this.schema } : {}),
    });
    const { error, results } = await (upTo === undefined ? migrator.migrateToLatest() : migrator.migrateTo(upTo));
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
    }
  }

  async createInterview(interview: NewInterview, seed: NewEvent[]): Promise<Interview> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('interviews')
        .values({
          id: interview.id,
          title: interview.title,
          language: interview.language,
          status: 'open',
          created_at: interview.createdAt,
          ended_at: null,
          created_by_sub: interview.createdBy.sub,
          created_by_name: interview.createdBy.name,
          last_seq: seed.length,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      if (seed.length > 0) {
        await trx
          .insertInto('events')
          .values(seed.map((e, i) => eventRow(interview.id, i + 1, e)))
          .execute();
      }
      return toInterview(row);
    });
  }

  async getInterview(id: string): Promise<Interview | undefined> {
    const row = await this.db.selectFrom('interviews').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toInterview(row);
  }

  async listInterviews(filter: InterviewListFilter): Promise<{ interviews: Interview[]; next: number | null }> {
    // One row past the page tells whether there is another, without counting.
    let q = this.db.selectFrom('interviews').selectAll().orderBy('created_seq', 'desc').limit(filter.limit + 1);
    if (filter.createdBy !== undefined) q = q.where('created_by_sub', '=', filter.createdBy);
    if (filter.before !== undefined) q = q.where('created_seq', '<', filter.before);
    if (filter.titleContains !== undefined) {
      // Both sides lower-cased: SQLite's LIKE ignores case for ASCII only, PostgreSQL's not at
      // all, and SQLite's own lower() knows only ASCII too (sqlite.ts adds duet_lower).
      const title = this.kind === 'sqlite' ? sql`duet_lower(title)` : sql`lower(title)`;
      const pattern = `%${filter.titleContains.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`;
      q = q.where(sql<boolean>`${title} LIKE ${pattern} ESCAPE '\\'`);
    }
    const rows = await q.execute();
    const page = rows.slice(0, filter.limit);
    return {
      interviews: page.map(toInterview),
      next: rows.length > filter.limit ? Number(page[page.length - 1]!.created_seq) : null,
    };
  }

  async append(interviewId: string, events: NewEvent[], options: AppendOptions) {
    return this.db.transaction().execute(async (trx) => {
      // Bumping last_seq takes the row lock first: concurrent appends to one
      // interview (from any node) serialise here, so seqs are gapless and in commit order.
      let q = trx
        .updateTable('interviews')
        .set((eb) => ({
          last_seq: eb('last_seq', '+', events.length),
          ...(options.patch?.language !== undefined ? { language: options.patch.language } : {}),
          ...(options.patch?.status !== undefined ? { status: options.patch.status } : {}),
          ...(options.patch?.endedAt !== undefined ? { ended_at: options.patch.endedAt } : {}),
        }))
        .where('id', '=', interviewId);
      if (options.requireOpen) q = q.where('status', '=', 'open');
      const row = await q.returningAll().executeTakeFirst();
      if (!row) {
        const exists = await trx.selectFrom('interviews').select('id').where('id', '=', interviewId).executeTakeFirst();
        throw exists
          ? new DuetError('interview_ended', 'the interview has ended')
          : new DuetError('not_found', 'no such interview');
      }
      const first = Number(row.last_seq) - events.length + 1;
      if (events.length > 0) {
        await trx
          .insertInto('events')
          .values(events.map((e, i) => eventRow(interviewId, first + i, e)))
          .execute();
      }
      return {
        events: events.map((e, i) => ({ ...e, seq: first + i })),
        interview: toInterview(row),
      };
    });
  }

  async appendMany(items: AppendGroupItem[], options: { requireOpen: boolean }): Promise<AppendGroupResult[]> {
    if (items.length === 0) return [];
    const ids = items.map((i) => i.interviewId);
    if (new Set(ids).size !== ids.length) throw new Error('appendMany: an interview appears twice in one group');
    if (this.kind === 'postgres') return this.appendManyPostgres(items, options);
    return this.db.transaction().execute(async (trx) => {
      // PostgreSQL: row locks taken in id order first, so two nodes' groups
      // over the same interviews never deadlock. SQLite: the UPDATE comes
      // first and takes the one write lock at once (a read first would make
      // the upgrade fail as busy).
      let writable = items;
      let found: Map<string, string> | undefined;
      if (this.kind === 'postgres') {
        const locked = await trx.selectFrom('interviews').select(['id', 'status']).where('id', 'in', ids).orderBy('id').forUpdate().execute();
        found = new Map(locked.map((r) => [r.id, r.status]));
        writable = items.filter((i) => found!.has(i.interviewId) && (!options.requireOpen || found!.get(i.interviewId) === 'open'));
      }
      let rows: Selectable<InterviewsTable>[] = [];
      if (writable.length > 0) {
        const bump = sql.join(
          writable.map((i) => sql`WHEN ${i.interviewId} THEN CAST(${i.events.length} AS INTEGER)`),
          sql` `,
        );
        let q = trx
          .updateTable('interviews')
          .set({ last_seq: sql<number>`last_seq + CASE id ${bump} ELSE 0 END` })
          .where(
            'id',
            'in',
            writable.map((i) => i.interviewId),
          );
        if (options.requireOpen) q = q.where('status', '=', 'open');
        rows = await q.returningAll().execute();
      }
      if (!found && rows.length < items.length) {
        // Which of the refused exist (ended) and which do not.
        const refused = items.filter((i) => !rows.some((r) => r.id === i.interviewId)).map((i) => i.interviewId);
        const exist = await trx.selectFrom('interviews').select(['id', 'status']).where('id', 'in', refused).execute();
        found = new Map(exist.map((r) => [r.id, r.status]));
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      const values: ReturnType<typeof eventRow>[] = [];
      const results = items.map((item): AppendGroupResult => {
        const row = byId.get(item.interviewId);
        if (!row) {
          return {
            error: found?.has(item.interviewId)
              ? new DuetError('interview_ended', 'the interview has ended')
              : new DuetError('not_found', 'no such interview'),
          };
        }
        const first = Number(row.last_seq) - item.events.length + 1;
        item.events.forEach((e, k) => values.push(eventRow(item.interviewId, first + k, e)));
        return { events: item.events.map((e, k) => ({ ...e, seq: first + k })), interview: toInterview(row) };
      });
      if (values.length > 0) await trx.insertInto('events').values(values).execute();
      return results;
    });
  }

  /** PostgreSQL: the whole group in one statement (APPEND_GROUP). */
  private async appendManyPostgres(items: AppendGroupItem[], options: { requireOpen: boolean }): Promise<AppendGroupResult[]> {
    const ids = items.map((i) => i.interviewId);
    const counts = items.map((i) => i.events.length);
    const values = [ids, counts, ...groupEvents(items)];
    const statement = options.requireOpen ? APPEND_GROUP.open : APPEND_GROUP.any;
    type Row = { bumped: Array<Selectable<InterviewsTable>> | null; found: string[] | null };
    // A named statement is parsed and planned once per connection: it halved
    // the commit's round trip (2.3 -> 1.0 ms, one event, idle machine).
    if (!this.prepared) throw new Error('a PostgreSQL store needs prepared statements (createPostgresStore)');
    const { rows } = await this.prepared<Row>(statement.name, statement.text, values);
    const bumped = new Map((rows[0]?.bumped ?? []).map((r) => [r.id, r]));
    const found = new Set(rows[0]?.found ?? []);
    return items.map((item, i): AppendGroupResult => {
      const row = bumped.get(item.interviewId);
      if (!row) {
        return {
          error: found.has(item.interviewId)
            ? new DuetError('interview_ended', 'the interview has ended')
            : new DuetError('not_found', 'no such interview'),
        };
      }
      const first = Number(row.last_seq) - counts[i]! + 1;
      return { events: item.events.map((e, k) => ({ ...e, seq: first + k })), interview: toInterview(row) };
    });
  }

  async readEvents(interviewId: string, query: EventQuery): Promise<StoredEvent[]> {
    let q = this.db
      .selectFrom('events')
      .select(['seq', 'at', 'type', 'doc', 'actor_sub', 'actor_name', 'actor_role', 'bin'])
      .select(query.docDataOnly ? sql<string>`CASE WHEN type = 'doc' THEN data ELSE '{}' END`.as('data') : 'data')
      .where('interview_id', '=', interviewId)
      .where('seq', '>', query.after ?? 0)
      .orderBy('seq', 'asc');
    if (query.type !== undefined) q = q.where('type', '=', query.type);
    if (query.doc !== undefined) q = q.where('doc', '=', query.doc);
    if (query.limit !== undefined) q = q.limit(query.limit);
    return (await q.execute()).map(toEvent);
  }

  async readEventPage(
    interviewId: string,
    { after, limit, maxBytes }: { after: number; limit: number; maxBytes: number },
  ): Promise<{ events: StoredEvent[]; more: boolean }> {
    // The sizes first, so the rows a page cannot hold are never read:
    // octet_length takes a value's size without reading it (PostgreSQL from
    // the TOAST header, SQLite 3.43+ from the record header); length() would
    // read, and decompress, each one.
    const sizes = await this.db
      .selectFrom('events')
      .select(['seq', sql<number>`octet_length(data) + coalesce(octet_length(bin), 0)`.as('size')])
      .where('interview_id', '=', interviewId)
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(limit + 1)
      .execute();
    let take = 0;
    let bytes = 0;
    for (const row of sizes.slice(0, limit)) {
      bytes += Number(row.size);
      if (take > 0 && bytes > maxBytes) break;
      take++;
    }
    // Seqs are gapless in commit order: the first `take` rows after `after` are still these
    // (unless the interview was deleted meanwhile: then there is no more).
    const events = take === 0 ? [] : await this.readEvents(interviewId, { after, limit: take });
    return { events, more: events.length > 0 && sizes.length > take };
  }

  async latestEvent(interviewId: string, type: EventType): Promise<StoredEvent | undefined> {
    // One row from the (interview_id, type, seq) index, however long the interview.
    const row = await this.db
      .selectFrom('events')
      .selectAll()
      .where('interview_id', '=', interviewId)
      .where('type', '=', type)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toEvent(row);
  }

  async recentChat(interviewId: string, channels: readonly string[], limit: number): Promise<StoredEvent[]> {
    if (channels.length === 0 || limit < 1) return [];
    // The channel lives in the JSON data, so filter here; pages from the
    // newest back, on the (interview_id, type, seq) index, so a join reads
    // about as many rows as it sends, not the whole chat of a long interview.
    const wanted = new Set(channels);
    const out: StoredEvent[] = [];
    for (let before: number | undefined; ; ) {
      let q = this.db
        .selectFrom('events')
        .selectAll()
        .where('interview_id', '=', interviewId)
        .where('type', '=', 'chat')
        .orderBy('seq', 'desc')
        .limit(limit);
      if (before !== undefined) q = q.where('seq', '<', before);
      const rows = await q.execute();
      for (const row of rows) {
        const e = toEvent(row);
        if (wanted.has(String(e.data.channel))) out.push(e);
        if (out.length >= limit) return out.reverse();
      }
      if (rows.length < limit) return out.reverse();
      before = Number(rows[rows.length - 1]!.seq);
    }
  }

  async latestSnapshot(interviewId: string, doc: DocName): Promise<Snapshot | undefined> {
    const row = await this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('interview_id', '=', interviewId)
      .where('doc', '=', doc)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    const bytes = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return { doc, seq: Number(row.seq), state: bytes(row.state), stateVector: row.state_vector ? bytes(row.state_vector) : undefined };
  }

  async saveSnapshot(interviewId: string, snapshot: Snapshot, at: string): Promise<void> {
    const ofDoc = snapshotsOf(interviewId, snapshot.doc);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('snapshots')
        .values({
          interview_id: interviewId,
          doc: snapshot.doc,
          seq: snapshot.seq,
          at,
          state: snapshot.state,
          state_vector: snapshot.stateVector ?? null,
        })
        .onConflict((oc) => oc.columns(['interview_id', 'doc', 'seq']).doNothing())
        .execute();
      // Only the newest is ever read (a load; the replay reads the log): the older ones were the
      // whole document again and again, kept for nothing.
      await trx.deleteFrom('snapshots').where(ofDoc).where('seq', '<', snapshot.seq).execute();
    });
  }

  async moveSnapshot(interviewId: string, doc: DocName, from: number, to: number, at: string): Promise<boolean> {
    const ofDoc = snapshotsOf(interviewId, doc);
    try {
      return await this.db.transaction().execute(async (trx) => {
        const newest = await trx.selectFrom('snapshots').select('seq').where(ofDoc).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        const seq = newest === undefined ? undefined : Number(newest.seq);
        // Another node stored or moved one at `to` or later: that one holds.
        if (seq !== undefined && seq >= to) return true;
        // Nothing of the document came between `from` and `to`, so a row in that
        // range is its state at `to` too; an older one (or none: another node's
        // prune, a save of ours that failed) is not, and is left as it is.
        if (seq === undefined || seq < from) return false;
        await trx.updateTable('snapshots').set({ seq: to, at }).where(ofDoc).where('seq', '=', seq).execute();
        await trx.deleteFrom('snapshots').where(ofDoc).where('seq', '<', to).execute();
        return true;
      });
    } catch (err) {
      // PostgreSQL: another node's snapshot at `to` committed while this moved (the same state).
      if ((err as { code?: unknown }).code === '23505' && (await this.db.selectFrom('snapshots').select('seq').where(ofDoc).where('seq', '>=', to).executeTakeFirst())) return true;
      throw err;
    }
  }

  async upsertParticipant(interviewId: string, actor: Actor, at: string): Promise<void> {
    await this.db
      .insertInto('participants')
      .values({ interview_id: interviewId, sub: actor.sub, name: actor.name, role: actor.role, first_seen: at })
      .onConflict((oc) => oc.columns(['interview_id', 'sub']).doUpdateSet({ name: actor.name, role: actor.role }))
      .execute();
  }

  async claimEditorId(interviewId: string, doc: DocName, clientId: number, sub: string, at: string): Promise<string> {
    try {
      // One round trip for a new id (the usual claim); a second to read whose an old one is.
      const inserted = await this.db
        .insertInto('editor_ids')
        .values({ interview_id: interviewId, doc, client_id: clientId, sub, at })
        .onConflict((oc) => oc.columns(['interview_id', 'doc', 'client_id']).doNothing())
        .returning('sub')
        .executeTakeFirst();
      if (inserted) return inserted.sub;
    } catch (err) {
      // The interview is gone (its foreign key): PostgreSQL's code, then SQLite's.
      const code = (err as { code?: unknown }).code;
      if (code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new DuetError('not_found', 'no such interview');
      throw err;
    }
    const owner = await this.editorIdOwner(interviewId, doc, clientId);
    // It conflicted, so the row was there: only a deletion of the interview in between removes it.
    if (owner === undefined) throw new DuetError('not_found', 'no such interview');
    return owner;
  }

  async editorIdOwner(interviewId: string, doc: DocName, clientId: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('editor_ids')
      .select('sub')
      .where('interview_id', '=', interviewId)
      .where('doc', '=', doc)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row?.sub;
  }

  async listParticipants(interviewId: string): Promise<Array<Actor & { firstSeen: string }>> {
    const rows = await this.db
      .selectFrom('participants')
      .select(['sub', 'name', 'role', 'first_seen'])
      .where('interview_id', '=', interviewId)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => ({ sub: r.sub, name: r.name, role: r.role as Role, firstSeen: r.first_seen }));
  }

  async createInvite(invite: Invite): Promise<void> {
    await this.db
      .insertInto('invites')
      .values({
        id: invite.id,
        interview_id: invite.interviewId,
        role: invite.role,
        name: invite.name,
        sub: invite.sub,
        created_at: invite.createdAt,
        expires_at: invite.expiresAt,
        created_by_sub: invite.createdBy,
        revoked_at: invite.revokedAt,
      })
      .execute();
  }

  async listInvites(interviewId: string): Promise<Invite[]> {
    const rows = await this.db
      .selectFrom('invites')
      .selectAll()
      .where('interview_id', '=', interviewId)
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map(toInvite);
  }

  async revokeInvite(interviewId: string, id: string, at: string): Promise<Invite | undefined> {
    const row = await this.db
      .updateTable('invites')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
      .where('id', '=', id)
      .where('interview_id', '=', interviewId)
      .returningAll()
      .executeTakeFirst();
    return row && toInvite(row);
  }

  async isInviteRevoked(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('invites').select('revoked_at').where('id', '=', id).executeTakeFirst();
    return row?.revoked_at != null;
  }

  async deleteInterview(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('interviews').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listEndedBefore(endedBefore: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('interviews')
      .select('id')
      .where('status', '=', 'ended')
      .where('ended_at', '<', endedBefore)
      .orderBy('ended_at', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** The database's clock, in ms since the epoch: every node's heartbeat is stamped and judged on one clock. */
  private dbNowMs() {
    return this.kind === 'postgres'
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`CAST(unixepoch('subsec') * 1000 AS INTEGER)`;
  }

  async registerNode(id: string, deadAfterMs: number, nodeProcess?: NodeProcessRecord): Promise<void> {
    await this.db
      .insertInto('nodes')
      .values({
        id,
        seen_at: this.dbNowMs(),
        dead_after_ms: deadAfterMs,
        swept_by: null,
        swept_at: null,
        pid_space: nodeProcess?.space ?? null,
        pid: nodeProcess?.pid ?? null,
        pid_started: nodeProcess?.started ?? null,
      })
      .execute();
  }

  async nodesInPidSpace(space: string): Promise<Array<{ id: string; seenAt: number } & NodeProcessRecord>> {
    const rows = await this.db
      .selectFrom('nodes')
      .select(['id', 'pid', 'pid_started', 'seen_at'])
      .where('pid_space', '=', space)
      .where('swept_by', 'is', null)
      .execute();
    return rows.map((r) => ({ id: r.id, seenAt: Number(r.seen_at), space, pid: Number(r.pid), started: Number(r.pid_started) }));
  }

  async heartbeatNode(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('nodes')
      .set({ seen_at: this.dbNowMs() })
      .where('id', '=', id)
      .where('swept_by', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async claimDeadNodes(
    claimer: string,
    deadAfterMs: number,
    freshMs: number,
    exited?: readonly string[],
    options?: { silent?: boolean },
  ): Promise<DeadNode[]> {
    if (exited?.length === 0) return [];
    const now = this.dbNowMs();
    let claim = this.db
      .updateTable('nodes')
      .set({ swept_by: claimer, swept_at: now })
      .where('id', '<>', claimer)
      .where((eb) => (exited ? eb('id', 'in', [...exited]) : eb('seen_at', '<', sql<number>`${now} - dead_after_ms`)));
    if (exited && options?.silent) claim = claim.where('seen_at', '<', sql<number>`${now} - dead_after_ms / 4 - 1000`);
    const rows = await claim
      .where((eb) => eb.or([eb('swept_by', 'is', null), eb('swept_by', '=', claimer), eb('swept_at', '<', sql<number>`${now} - ${deadAfterMs}`)]))
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('nodes as me')
            .select('me.id')
            .where('me.id', '=', claimer)
            .where('me.swept_by', 'is', null)
            .where('me.seen_at', '>=', sql<number>`${now} - ${freshMs}`),
        ),
      )
      .returning(['id', 'seen_at'])
      .execute();
    return rows.map((r) => ({ id: r.id, seenAt: new Date(Number(r.seen_at)).toISOString() }));
  }

  async forgetNode(id: string): Promise<void> {
    await this.db.deleteFrom('nodes').where('id', '=', id).execute();
  }

  async joinsLoggedBy(nodeId: string): Promise<Array<StoredEvent & { interviewId: string }>> {
    // Node ids are UUIDs (no LIKE wildcards); the pattern narrows the rows, the parsed data decides.
    if (!/^[0-9a-f-]{36}$/.test(nodeId)) throw new Error(`not a node id: ${nodeId}`);
    const rows = await this.db
      .selectFrom('events as e')
      .innerJoin('interviews as i', 'i.id', 'e.interview_id')
      .select(['e.interview_id', 'e.seq', 'e.at', 'e.type', 'e.doc', 'e.actor_sub', 'e.actor_name', 'e.actor_role', 'e.data', 'e.bin'])
      .where('i.status', '=', 'open')
      .where('e.type', '=', 'join')
      .where('e.data', 'like', `%"node":"${nodeId}"%`)
      .orderBy('e.interview_id')
      .orderBy('e.seq')
      .execute();
    return rows.map((r) => ({ ...toEvent(r), interviewId: r.interview_id })).filter((e) => e.data.node === nodeId);
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('interviews').select('id').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
