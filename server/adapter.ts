/**
 * The Socket.IO adapter of a node that shares rooms with other nodes through
 * Redis. Each node has its own pub/sub client pair (a subscribed connection
 * can do nothing else); close() quits both.
 *
 * Two flavours, picked by REDIS_ADAPTER:
 * - classic: PSUBSCRIBE to one pattern, so every broadcast reaches every node;
 * - sharded: Redis 7 sharded pub/sub (SPUBLISH) with a channel per room, so a
 *   broadcast only reaches nodes that have members in that room; works on
 *   Redis Cluster too.
 */
import type { Logger } from 'pino';
import type { createClient } from '@redis/client';
import type { Config } from './config.js';
import { reasonOf, StartError } from './start-failure.js';

type RedisClient = ReturnType<typeof createClient>;
/** What Socket.IO's `adapter` option takes: a factory of one adapter per namespace. */
export type AdapterFactory = (nsp: any) => any;

export interface RedisAdapterHandle {
  adapter: AdapterFactory;
  /** The command (publishing) connection, shared with the node's other Redis users (rate limits). */
  client: RedisClient;
  /** Readiness: both connections up and Redis answering. */
  ping(): Promise<void>;
  /**
   * Resolves once every subscription issued so far on this node is active in
   * Redis (FIFO on the subscriber connection), so a joiner can be told it is
   * in without a broadcast slipping past a half-made subscription.
   */
  subscribed(): Promise<void>;
  close(): Promise<void>;
}

export async function createRedisAdapter(
  config: Pick<Config, 'redisUrl' | 'redisKeyPrefix' | 'redisAdapter'>,
  log: Logger,
  /**
   * Called when Redis is back after losing it. Broadcasts sent meanwhile are
   * gone (pub/sub keeps nothing), so this node's clients may lack other nodes'
   * edits: the caller makes them resync.
   */
  onRecovered: () => void = () => {},
  /**
   * How long the start waits for Redis. A running node rides out an outage,
   * but at start-up a URL that cannot work (a wrong host, port, password or
   * database number) would otherwise keep the node from ever listening.
   */
  startTimeoutMs = 30_000,
): Promise<RedisAdapterHandle> {
  if (!config.redisUrl) throw new Error('createRedisAdapter needs a REDIS_URL');
  // Loaded here, not at start-up: a node without Redis (a laptop) never needs them.
  const [{ createClient }, { createAdapter, createShardedAdapter }] = await Promise.all([import('@redis/client'), import('@socket.io/redis-adapter')]);
  const SOCKET = {
    // Keep trying while Redis restarts; node-redis re-subscribes on reconnect.
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    connectTimeout: 5000,
  };
  const pub: RedisClient = createClient({ url: config.redisUrl, socket: SOCKET });
  // On reconnect node-redis writes one SSUBSCRIBE per channel before the client
  // is ready, and stops at the socket's high-water mark to wait for 'drain';
  // but before ready its 'drain' writes nothing more, so past 16 KiB of
  // commands (about 300 rooms' channels) the client never got ready again
  // after a Redis restart (node-redis 6.3.1). 8 MiB is over 100,000 rooms.
  // (TLS sockets take only highWaterMark; plain ones writableHighWaterMark.)
  const BUFFER = 8 * 1024 * 1024;
  const sub = pub.duplicate({ socket: { ...SOCKET, highWaterMark: BUFFER, writableHighWaterMark: BUFFER } as typeof SOCKET });
  // Without listeners a lost connection would crash the node; node-redis reconnects by itself.
  let lastLogged = 0;
  let lastError = 'no answer';
  let lost = false;
  /** Connected once: an error before that is a start-up retry, not a lost connection (nothing is subscribed yet). */
  let started = false;
  let closing = false;
  /** The adapters' subscription changes that failed with the connection, by channel, to make again once Redis is back. */
  const failedSubscriptions = new Map<string, () => Promise<unknown>>();
  for (const [name, client] of [['pub', pub], ['sub', sub]] as const) {
    client.on('error', (err: Error) => {
      if (closing) return;
      if (started) lost = true;
      lastError = reasonOf(err);
      if (Date.now() - lastLogged > 5000) {
        lastLogged = Date.now();
        log.warn({ err: err.message, client: name }, 'redis connection error (reconnecting)');
      }
    });
    client.on('ready', () => {
      if (!lost || !pub.isReady || !sub.isReady) return;
      lost = false;
      // node-redis re-issues the subscriptions it had on reconnect; the ones that
      // failed with the connection are asked again. Then wait until all are live.
      const again = [...new Set(failedSubscriptions.values())];
      failedSubscriptions.clear();
      for (const change of again) void change();
      subscribed().then(
        () => {
          log.info('redis is back; subscriptions restored');
          onRecovered();
        },
        (err: unknown) => log.warn({ err }, 'redis re-subscription check failed'),
      );
    });
  }
  const destroy = () => Promise.allSettled([pub, sub].map(async (c) => c.destroy()));
  const connected = Promise.all([pub.connect(), sub.connect()]);
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave up'>((resolve) => (timer = setTimeout(() => resolve('gave up'), startTimeoutMs)));
  let outcome: unknown;
  try {
    outcome = await Promise.race([connected, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
  if (outcome === 'gave up') {
    closing = true;
    // A connection still being made when the clients are destroyed may finish later: closed then.
    connected.then(destroy, () => {});
    await destroy();
    throw new StartError(`cannot reach Redis at REDIS_URL within ${startTimeoutMs / 1000} s: ${lastError}`);
  }
  started = true;

  const prefix = `${config.redisKeyPrefix}#sio`;
  let barrierSeq = 0;
  const subscribed = async () => {
    // A fresh channel each time, so node-redis really sends the command and
    // its reply comes after every subscription queued before it.
    const channel = `${config.redisKeyPrefix}#barrier#${process.pid}#${barrierSeq++}`;
    const noop = () => {};
    if (config.redisAdapter === 'sharded') {
      await sub.sSubscribe(channel, noop);
      await sub.sUnsubscribe(channel);
    } else {
      await sub.subscribe(channel, noop);
      await sub.unsubscribe(channel);
    }
  };

  // Fail at start-up, with the fix in the message, rather than at the first join.
  try {
    await subscribed();
  } catch (err) {
    await destroy();
    if (config.redisAdapter === 'sharded' && /unknown command/i.test(String(err))) {
      throw new StartError('REDIS_ADAPTER=sharded needs Redis 7 or newer (sharded pub/sub); upgrade Redis or set REDIS_ADAPTER=classic');
    }
    throw err;
  }

  // The adapter publishes without catching; a broadcast from a late disconnect
  // handler after close() would be an unhandled rejection. Once closing, the
  // adapter's commands go nowhere instead. While Redis is unreachable its
  // publishes go nowhere too rather than pile up in node-redis's offline queue:
  // pub/sub keeps nothing, and onRecovered makes this node's clients resync.
  // That bound is why publishes need no per-command timeout: node-redis arms an
  // AbortSignal.timeout (5 s default) for every command, which cost 3-6% of a
  // node's CPU at 500 rooms (docs/performance.md). Other commands keep theirs.
  const PUBLISHES = new Set<PropertyKey>(['publish', 'sPublish', 'PUBLISH', 'SPUBLISH']);
  // What the adapters (un)subscribe as rooms come and go, and at close, by kind of channel.
  const SUBSCRIPTIONS = new Map<PropertyKey, string>([
    ['subscribe', 'channel'],
    ['unsubscribe', 'channel'],
    ['pSubscribe', 'pattern'],
    ['pUnsubscribe', 'pattern'],
    ['sSubscribe', 'shard'],
    ['sUnsubscribe', 'shard'],
  ]);
  const untimed = pub.withCommandOptions({ timeout: 0 });
  const nothing = async () => 0;
  /**
   * The adapters do not catch what they publish or (un)subscribe, and such a
   * command fails when the connection drops with it in flight, or when the
   * client is destroyed with it queued (a node shut down while Redis is
   * away): an unhandled rejection, which ends a Node process. A broadcast lost
   * so is lost like any other while Redis is away (onRecovered makes the
   * clients resync). A subscription change lost so is not: node-redis keeps
   * (and re-subscribes on reconnect) the channels whose last change it saw
   * succeed, so the failed one is made again once Redis is back (see 'ready'
   * above), unless a later change of the same channel replaced it.
   */
  type Method = (...args: unknown[]) => unknown;
  const quietly = (key: PropertyKey, call: Method): Method => {
    const kind = SUBSCRIPTIONS.get(key);
    const channelsOf = (args: unknown[]) => [args[0]].flat().map((c) => `${kind}:${String(c)}`);
    const quiet = (...args: unknown[]) => {
      if (kind) for (const c of channelsOf(args)) failedSubscriptions.delete(c);
      return Promise.resolve(call(...args)).catch(() => {
        if (!kind || closing) return 0;
        const again = () => quiet(...args);
        for (const c of channelsOf(args)) failedSubscriptions.set(c, again);
        return 0;
      });
    };
    return quiet;
  };
  // Each method bound once per client, not on every read: the sharded adapter
  // reads two on every publish (sSubscribe to tell the client library apart,
  // then sPublish), and binding them cost up to 1.5% of a node's CPU
  // (docs/performance.md, change 37).
  const bindings = new Map<object, Map<PropertyKey, { method: Method; bound: unknown }>>();
  const boundMethod = (from: object, key: PropertyKey, quiet: boolean): unknown => {
    const value = Reflect.get(from, key, from) as unknown;
    if (typeof value !== 'function') return value;
    let cache = bindings.get(from);
    if (!cache) bindings.set(from, (cache = new Map()));
    const known = cache.get(key);
    if (known?.method === value) return known.bound;
    const call = (value as Method).bind(from) as Method;
    const bound = quiet ? quietly(key, call) : call;
    cache.set(key, { method: value as Method, bound });
    return bound;
  };
  const adapterPub = new Proxy(pub, {
    get(target, key) {
      const publishes = PUBLISHES.has(key);
      if (closing && (publishes || key === 'sendCommand')) return nothing;
      if (publishes && !pub.isReady) return nothing;
      return boundMethod(publishes ? untimed : target, key, publishes);
    },
  });
  // Duet's own subscriptions (subscribed()) use `sub` itself, and see their failures.
  const adapterSub = new Proxy(sub, {
    get: (target, key) => boundMethod(target, key, SUBSCRIPTIONS.has(key)),
  });

  const base: AdapterFactory =
    config.redisAdapter === 'sharded'
      ? createShardedAdapter(adapterPub, adapterSub, { channelPrefix: prefix, subscriptionMode: 'dynamic' })
      : createAdapter(adapterPub, adapterSub, { key: prefix, publishOnSpecificResponseChannel: true, requestsTimeout: 3000 });

  // Socket.IO calls `new adapter(nsp)`: a plain function (not an arrow) whose
  // returned object becomes the result.
  const adapter: AdapterFactory = function (nsp: any) {
    const instance = base(nsp);
    if (config.redisAdapter === 'sharded') {
      // socket.join() returns whatever addAll returns; the sharded adapter
      // subscribes to a new room's channel without waiting (GOTCHAS 14), so make
      // the join resolve only once that subscription is live. A socket joining
      // a channel another socket asked for a moment ago waits for the same
      // subscription: a join's sync may answer from any log read that started
      // after its join resolved (Room.readSince).
      const addAll = instance.addAll.bind(instance) as (id: string, rooms: Set<string>) => void;
      const subscribing = new Map<string, Promise<void>>();
      instance.addAll = (id: string, rooms: Set<string>) => {
        const fresh = [...rooms].filter((r) => !instance.rooms.has(r));
        addAll(id, rooms);
        if (fresh.length === 0) {
          const pending = [...rooms].flatMap((r) => subscribing.get(r) ?? []);
          return pending.length > 0 ? Promise.all(pending).then(() => {}) : undefined;
        }
        // Bounded: while Redis is down the subscription waits for it, and a join must
        // not hang on that (a broadcast missed meanwhile shows as a gap its client
        // repairs, and the node's clients resync once Redis is back).
        const live = bounded(subscribed(), 2000);
        for (const r of fresh) subscribing.set(r, live);
        void live.then(() => {
          for (const r of fresh) if (subscribing.get(r) === live) subscribing.delete(r);
        });
        return live;
      };
      deliverHereAtOnce(instance);
    }
    return instance;
  };

  return {
    adapter,
    client: pub,
    subscribed,
    async ping() {
      if (!pub.isReady || !sub.isReady) throw new Error('redis not connected');
      await pub.ping();
    },
    async close() {
      closing = true;
      // close() (QUIT) lets queued commands finish; destroy() if Redis is gone.
      await Promise.all(
        [pub, sub].map(async (c) => {
          if (!c.isOpen) return;
          try {
            await Promise.race([c.close(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timeout')), 1000).unref())]);
          } catch {
            c.destroy();
          }
        }),
      );
    },
  };
}

/** Socket.IO's cluster adapter's message type for a broadcast (socket.io-adapter 2.5). */
const BROADCAST = 3;

/**
 * Socket.IO's cluster adapter, which the sharded one builds on, hands a
 * broadcast to this node's own sockets only once Redis has answered its
 * publish, for offsets that only connection-state recovery uses (Duet does
 * not). So every receiver on the sender's node waited a Redis round trip on
 * top of the commit, and on a busy machine that is a wait for Redis and then
 * for this node to get a core again. Here the publish is encoded and queued
 * first, as it was (node-redis writes it at the next setImmediate), and this
 * node's sockets get the packet in the same tick; broadcasts still reach them
 * in the order they were made. If the library's layout is not the one this
 * was written against, its own broadcast stays.
 */
function deliverHereAtOnce(instance: any): void {
  if (instance.nsp?.server?.opts?.connectionStateRecovery) return;
  let cluster = Object.getPrototypeOf(instance);
  while (cluster && !Object.hasOwn(cluster, 'publishAndReturnOffset')) cluster = Object.getPrototypeOf(cluster);
  const inMemory = cluster && Object.getPrototypeOf(cluster);
  if (typeof inMemory?.broadcast !== 'function' || typeof instance.publishAndReturnOffset !== 'function') return;
  const deliverHere = inMemory.broadcast as (packet: unknown, opts: BroadcastOpts) => void;
  instance.broadcast = (packet: unknown, opts: BroadcastOpts) => {
    if (!opts.flags?.local) {
      const message = { type: BROADCAST, data: { packet, opts: { rooms: [...opts.rooms], except: [...opts.except], flags: opts.flags } } };
      // Encoded there and then, before the local delivery touches the packet; failures are the adapter's (quietly, above).
      void Promise.resolve(instance.publishAndReturnOffset(message)).catch(() => {});
    }
    deliverHere.call(instance, packet, opts);
  };
}

interface BroadcastOpts {
  rooms: Set<string>;
  except: Set<string>;
  flags?: { local?: boolean };
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
