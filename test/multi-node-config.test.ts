/** The many-node settings: defaults, accepted values, and one clear line per bad one. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

describe('many-node configuration', () => {
  it('defaults to one node on SQLite with no Redis, and the sharded adapter when Redis is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ redisUrl: undefined, databaseUrl: undefined, databaseSchema: undefined, workers: 1 });
    expect(c.redisKeyPrefix).toBe('duet');
    expect(c.redisAdapter).toBe('sharded');
  });

  it('reads Redis, PostgreSQL and workers', () => {
    const c = loadConfig({
      REDIS_URL: 'rediss://:pw@redis.internal:6380/0',
      JWT_SECRET: 'a-secret-every-node-shares-0123456789',
      REDIS_KEY_PREFIX: 'duet:prod',
      REDIS_ADAPTER: 'classic',
      DATABASE_URL: 'postgresql://duet:pw@db:5432/duet',
      DATABASE_SCHEMA: 'duet_eu',
      WORKERS: '4',
    });
    expect(c).toMatchObject({
      redisUrl: 'rediss://:pw@redis.internal:6380/0',
      redisKeyPrefix: 'duet:prod',
      redisAdapter: 'classic',
      databaseUrl: 'postgresql://duet:pw@db:5432/duet',
      databaseSchema: 'duet_eu',
      workers: 4,
    });
  });

  it.each([
    ['REDIS_URL', 'http://redis:6379', /^Invalid REDIS_URL: must be a redis/],
    ['REDIS_ADAPTER', 'cluster', /^Invalid REDIS_ADAPTER="cluster"/],
    ['REDIS_KEY_PREFIX', 'has spaces', /^Invalid REDIS_KEY_PREFIX="has spaces"/],
    ['DATABASE_URL', 'mysql://db/duet', /^Invalid DATABASE_URL: must be a postgres/],
    ['DATABASE_SCHEMA', 'Robert"; DROP', /^Invalid DATABASE_SCHEMA=.*lower-case SQL identifier/],
    ['WORKERS', '0', /^Invalid WORKERS="0"/],
    ['WORKERS', 'many', /^Invalid WORKERS="many"/],
  ])('refuses %s=%s with one line naming it', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses Redis without JWT_SECRET: a secret each node generates for itself differs from the next', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://redis:6379' })).toThrow(/^Invalid JWT_SECRET: must be set when REDIS_URL is/);
    // One node on PostgreSQL alone may keep its generated secret in DATA_DIR.
    expect(loadConfig({ DATABASE_URL: 'postgres://db/duet' }).jwtSecret).toBeUndefined();
  });

  it('never echoes a URL, which may carry a password', () => {
    for (const name of ['REDIS_URL', 'DATABASE_URL']) {
      expect(() => loadConfig({ [name]: 'ftp://user:secret-pw@host' })).toThrow(ConfigError);
      try {
        loadConfig({ [name]: 'ftp://user:secret-pw@host' });
      } catch (err) {
        expect((err as Error).message).not.toContain('secret-pw');
      }
    }
  });
});
