/**
 * Schema migrations, run at start-up by every node (Kysely's Migrator takes a
 * lock, so nodes starting together do not race). Written once for both
 * dialects; only the binary column type differs.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const binary = dialect === 'postgres' ? sql`bytea` : sql`blob`;
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('interviews')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('language', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('created_by_sub', 'text', (c) => c.notNull())
          .addColumn('created_by_name', 'text', (c) => c.notNull())
          .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex('interviews_created_by').on('interviews').columns(['created_by_sub', 'created_at']).execute();

        await db.schema
          .createTable('events')
          .addColumn('interview_id', 'text', (c) => c.notNull().references('interviews.id').onDelete('cascade'))
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('doc', 'text')
          .addColumn('actor_sub', 'text', (c) => c.notNull())
          .addColumn('actor_name', 'text', (c) => c.notNull())
          .addColumn('actor_role', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('bin', binary)
          .addPrimaryKeyConstraint('events_pk', ['interview_id', 'seq'])
          .execute();
        await db.schema.createIndex('events_by_type').on('events').columns(['interview_id', 'type', 'seq']).execute();

        await db.schema
          .createTable('snapshots')
          .addColumn('interview_id', 'text', (c) => c.notNull().references('interviews.id').onDelete('cascade'))
          .addColumn('doc', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('state', binary, (c) => c.notNull())
          .addPrimaryKeyConstraint('snapshots_pk', ['interview_id', 'doc', 'seq'])
          .execute();

        await db.schema
          .createTable('participants')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('interview_id', 'text', (c) => c.notNull().references('interviews.id').onDelete('cascade'))
          .addColumn('sub', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('first_seen', 'text', (c) => c.notNull())
          .addUniqueConstraint('participants_unique', ['interview_id', 'sub'])
          .execute();
      },
    },
    '0002_invites': {
      async up(db: Kysely<any>) {
        // One row per minted invite, so an interviewer can list and revoke them.
        await db.schema
          .createTable('invites')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('interview_id', 'text', (c) => c.notNull().references('interviews.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('sub', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('created_by_sub', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('invites_by_interview').on('invites').columns(['interview_id', 'created_at']).execute();
      },
    },
    '0003_snapshot_state_vectors': {
      async up(db: Kysely<any>) {
        // A snapshot's Yjs state vector, so a cold join can be answered from the
        // stored bytes without decoding them first. Older snapshots have none.
        await db.schema.alterTable('snapshots').addColumn('state_vector', binary).execute();
      },
    },
    '0004_editor_ids': {
      async up(db: Kysely<any>) {
        // Who writes under each Yjs client id of a document (server/rooms/editor-ids.ts):
        // the first claim holds, whichever node makes it.
        await db.schema
          .createTable('editor_ids')
          .addColumn('interview_id', 'text', (c) => c.notNull().references('interviews.id').onDelete('cascade'))
          .addColumn('doc', 'text', (c) => c.notNull())
          // Yjs client ids are unsigned 32-bit: past PostgreSQL's integer.
          .addColumn('client_id', 'bigint', (c) => c.notNull())
          .addColumn('sub', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('editor_ids_pk', ['interview_id', 'doc', 'client_id'])
          .execute();
      },
    },
    '0005_nodes': {
      async up(db: Kysely<any>) {
        // Each node process's heartbeat (server/realtime/dead-nodes.ts): a node
        // whose heartbeat stops is taken for dead, and one that is still alive
        // logs the leaves its sockets never will. Times are the database's
        // clock in ms, so the nodes' own clocks need not agree.
        await db.schema
          .createTable('nodes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('seen_at', 'bigint', (c) => c.notNull())
          // Its own NODE_DEAD_AFTER_SECONDS: nodes set differently (mid-rollout) judge each other fairly.
          .addColumn('dead_after_ms', 'bigint', (c) => c.notNull())
          // The live node logging this one's leaves, and since when (a claim a stalled sweeper left is taken over).
          .addColumn('swept_by', 'text')
          .addColumn('swept_at', 'bigint')
          .execute();
        // No index for finding a dead node's joins: events_by_type serves the
        // lookup per open interview, and building one over a large log would
        // block every node's writes while a rolling upgrade migrates.
      },
    },
    '0006_node_processes': {
      async up(db: Kysely<any>) {
        // Which process a node is (server/realtime/node-process.ts), so a node on
        // the same machine can see it has ended without waiting out its silence.
        // Null for nodes where that cannot be told, and for those started before.
        await db.schema.alterTable('nodes').addColumn('pid_space', 'text').execute();
        await db.schema.alterTable('nodes').addColumn('pid', 'bigint').execute();
        await db.schema.alterTable('nodes').addColumn('pid_started', 'bigint').execute();
      },
    },
    '0007_interview_creation_order': {
      async up(db: Kysely<any>) {
        // The order interviews were made in, which the list is read by and pages on:
        // created_at is to the millisecond, so interviews made in one millisecond had
        // no order at all. The database numbers each new row itself (a sequence on
        // PostgreSQL, a trigger on SQLite), so a node of the previous version still
        // inserting mid-upgrade leaves no gap; rows made before take the order of
        // their created_at.
        await db.schema.alterTable('interviews').addColumn('created_seq', 'bigint').execute();
        await sql`UPDATE interviews SET created_seq = o.n
          FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM interviews) AS o
          WHERE interviews.id = o.id`.execute(db);
        if (dialect === 'postgres') {
          // ALTER TABLE above holds the table's lock until this commits: no insert lands in between.
          await sql`CREATE SEQUENCE interviews_created_seq_seq OWNED BY interviews.created_seq`.execute(db);
          await sql`SELECT setval('interviews_created_seq_seq', (SELECT coalesce(max(created_seq), 0) + 1 FROM interviews), false)`.execute(db);
          await sql`ALTER TABLE interviews ALTER COLUMN created_seq SET DEFAULT nextval('interviews_created_seq_seq')`.execute(db);
          await sql`ALTER TABLE interviews ALTER COLUMN created_seq SET NOT NULL`.execute(db);
        } else {
          // One writer at a time on SQLite, so the next number is simply one past the largest.
          await sql`CREATE TRIGGER interviews_created_seq AFTER INSERT ON interviews WHEN NEW.created_seq IS NULL
            BEGIN
              UPDATE interviews SET created_seq = (SELECT coalesce(max(created_seq), 0) + 1 FROM interviews)
              WHERE rowid = NEW.rowid;
            END`.execute(db);
        }
        await db.schema.createIndex('interviews_by_created_seq').on('interviews').column('created_seq').unique().execute();
        await db.schema.createIndex('interviews_by_creator_seq').on('interviews').columns(['created_by_sub', 'created_seq']).execute();
        await db.schema.dropIndex('interviews_created_by').execute();
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
