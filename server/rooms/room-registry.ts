/**
 * The interviews loaded on this node. A room loads on its first socket and
 * unloads a little after its last one leaves (a reconnecting client finds it warm).
 */
import type { Interview } from '../../shared/protocol.js';
import type { Metrics } from '../metrics.js';
import { DOC_NAMES, type DocName } from '../../shared/roles.js';
import type { Snapshot, Store } from '../store/store.js';
import { Room } from './room.js';

export class RoomRegistry {
  private readonly rooms = new Map<string, Promise<Room>>();
  /** Rooms loading: their snapshots, once read (before the log's tail is). */
  private readonly loadingSnapshots = new Map<string, Promise<ReadonlyArray<Snapshot | undefined> | undefined>>();

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly unloadAfterMs: number,
    /** How long after a join a cold load's bytes wait to be applied (Room.applyReadSoon). */
    private readonly applyAfterMs?: number,
  ) {}

  /** Loads (or finds) the room and counts one more socket in it; `known` spares a load reading the interview again. */
  async acquire(interviewId: string, known?: Interview): Promise<Room> {
    const room = await (this.rooms.get(interviewId) ?? this.load(interviewId, known ?? this.store.getInterview(interviewId)));
    clearTimeout(room.unloadTimer);
    room.unloadTimer = undefined;
    room.sockets++;
    return room;
  }

  /**
   * Starts loading the room, counting no socket, so that a handshake's checks
   * and the load's reads overlap; `interview` is the handshake's own read of
   * it. A room no socket acquires (the handshake was refused) unloads like one
   * its last socket left.
   */
  preload(interviewId: string, interview: Promise<Interview | undefined>): void {
    if (this.rooms.has(interviewId)) return;
    this.load(interviewId, interview).then(
      (room) => {
        if (room.sockets === 0 && !room.unloadTimer) this.unloadLater(room);
      },
      () => {}, // the handshake reports the same read's failure
    );
  }

  release(room: Room): void {
    if (--room.sockets > 0) return;
    this.unloadLater(room);
  }

  /**
   * While the room is loading: the document's latest snapshot, as soon as it
   * is read (undefined if it has none, or if the load ended first). Undefined
   * once the room has loaded.
   */
  snapshotWhileLoading(interviewId: string, doc: DocName): Promise<Snapshot | undefined> | undefined {
    return this.loadingSnapshots.get(interviewId)?.then((snapshots) => snapshots?.[DOC_NAMES.indexOf(doc)]);
  }

  private load(interviewId: string, interview: Interview | Promise<Interview | undefined>): Promise<Room> {
    let read!: (snapshots: ReadonlyArray<Snapshot | undefined> | undefined) => void;
    const snapshots = new Promise<ReadonlyArray<Snapshot | undefined> | undefined>((resolve) => (read = resolve));
    const loading = Room.load(this.store, interviewId, interview, this.applyAfterMs, read);
    this.rooms.set(interviewId, loading);
    this.loadingSnapshots.set(interviewId, snapshots);
    const loaded = () => {
      read(undefined); // a load that failed before its snapshots were read
      if (this.loadingSnapshots.get(interviewId) === snapshots) this.loadingSnapshots.delete(interviewId);
    };
    loading.then(loaded, loaded);
    loading.then(
      () => this.metrics.rooms.set(this.rooms.size),
      () => this.rooms.delete(interviewId),
    );
    return loading;
  }

  private unloadLater(room: Room): void {
    room.unloadTimer = setTimeout(() => {
      if (room.sockets > 0) return;
      this.rooms.delete(room.id);
      room.destroy();
      this.metrics.rooms.set(this.rooms.size);
    }, this.unloadAfterMs);
  }

  /** A loaded room, if this node has it (no load). */
  async peek(interviewId: string): Promise<Room | undefined> {
    return this.rooms.get(interviewId)?.catch(() => undefined);
  }

  get size(): number {
    return this.rooms.size;
  }

  async closeAll(): Promise<void> {
    const all = await Promise.allSettled(this.rooms.values());
    this.rooms.clear();
    for (const r of all) if (r.status === 'fulfilled') r.value.destroy();
    this.metrics.rooms.set(0);
  }
}
