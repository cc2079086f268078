/**
 * Per-client-IP limits on Socket.IO handshakes and REST calls
 * (rate-limiter-flexible, fixed one-minute windows). With Redis the counters
 * live there, so a client spreading its requests over N nodes gets the budget
 * of one; when Redis is unreachable each node falls back to its own in-memory
 * counter (the insurance limiter) instead of refusing everyone or waiting.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DuetError } from '../../shared/errors.js';
import type { Config } from '../config.js';
import type { ClientIp } from './client-ip.js';

export interface IpLimiter {
  /** Counts one request from `ip`: undefined when allowed, else whole seconds to wait. */
  consume(ip: string): Promise<number | undefined>;
}

export interface IpLimits {
  handshake: IpLimiter;
  http: IpLimiter;
}

type LimitConfig = Pick<Config, 'handshakesPerMinute' | 'httpRequestsPerMinute' | 'redisKeyPrefix'>;

/** `redis`: a connected node-redis client (the adapter's command connection), or none for memory only. */
export function createIpLimits(config: LimitConfig, log: Logger, redis?: object): IpLimits {
  const make = (name: string, points: number): IpLimiter => {
    const memory = new RateLimiterMemory({ points, duration: 60, keyPrefix: name });
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({
          storeClient: redis,
          useRedisPackage: true,
          // Fail over at once instead of queueing behind a reconnecting client.
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
          points,
          duration: 60,
          keyPrefix: `${config.redisKeyPrefix}:rl:${name}`,
        })
      : memory;
    return {
      async consume(ip) {
        try {
          await limiter.consume(ip);
          return undefined;
        } catch (res) {
          if (res instanceof RateLimiterRes) {
            log.debug({ ip, limiter: name }, 'rate limited');
            return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
          }
          // Neither Redis nor the insurance answered: let the request through rather than lock everyone out.
          log.warn({ err: res, limiter: name }, 'rate limiter unavailable; allowing');
          return undefined;
        }
      },
    };
  };
  return {
    handshake: make('handshake', config.handshakesPerMinute),
    http: make('http', config.httpRequestsPerMinute),
  };
}

/** REST: one point per request; over the limit answers 429 rate_limited with Retry-After. */
export function httpRateLimit(limiter: IpLimiter, clientIp: ClientIp): RequestHandler {
  return async (req, res, next) => {
    const wait = await limiter.consume(clientIp(req));
    if (wait === undefined) return next();
    res.set('Retry-After', String(wait));
    throw new DuetError('rate_limited', `too many requests from this address; retry in ${wait} s`);
  };
}
