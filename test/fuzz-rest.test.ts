/**
 * Fuzzing every REST endpoint: random methods, paths (real and bogus ids,
 * traversal, bad percent-encoding, long segments), tokens (none, garbage,
 * every role that may not change the target interview), headers and bodies
 * (junk JSON, near-valid bodies with smuggled fields, wrong content types and
 * encodings, oversized). Every answer is JSON `{error: {code, message}}` with
 * the status its code maps to, or a success; never a 5xx. The target
 * interview's document and log change only by the bystander's typing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../shared/errors.js';
import { LIMITS } from '../shared/limits.js';
import { wellFormed } from '../shared/well-formed.js';
import { anyText, checkAfterFuzz, FUZZ_TIMEOUT, fuzzTarget, readRecord, runs } from './fuzz-kit.js';
import { interviewerToken } from './helpers.js';
import { BACKENDS } from './fixtures/multi-node.js';

interface Req {
  method: string;
  path: string;
  token: string | undefined;
  authHeader: string | undefined;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  body: string | Uint8Array | undefined;
}

const junkJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));

describe('fuzzing the REST API', () => {
  it.each(BACKENDS)('answers every random request with a coded JSON error or a success, never a 5xx, and changes nothing it refused (%s)', async (backend) => {
    const { node, iv, bystander } = await fuzzTarget(backend);
    const id = iv.interview.id;
    const tokens = {
      candidate: await iv.invite('candidate', 'Fuzz candidate'),
      observer: await iv.invite('observer', 'Fuzz observer'),
      reviewer: await iv.invite('reviewer', 'Fuzz reviewer'),
      stranger: await interviewerToken(node, 'stranger', 'Stranger'),
    };
    const inviteList = await fetch(`${node.url}/api/interviews/${id}/invites`, { headers: { authorization: `Bearer ${iv.token}` } });
    const inviteIds: string[] = ((await inviteList.json()) as { invites: Array<{ id: string }> }).invites.map((i: { id: string }) => i.id);
    const before = await readRecord(node, iv);

    const segment = fc.oneof(
      fc.constantFrom(id, 'nope', '..', '.', '%2e%2e', '%', '%zz', '%00', '%ff', 'a%2Fb', encodeURIComponent('ü'), '__proto__', 'constructor'),
      fc.constantFrom(...inviteIds),
      // encodeURIComponent throws on a lone surrogate.
      anyText({ maxLength: 20 }).map((t) => encodeURIComponent(wellFormed(t))),
      fc.integer({ min: 200, max: 5000 }).map((n) => 'x'.repeat(n)),
    );
    const path = fc.oneof(
      fc.constantFrom('/api/interviews', '/api/interviews/', '/api', '/api/', '/healthz', '/readyz', '/api//interviews', '/metrics'),
      // The static client: traversal must never reach a file outside dist/client.
      fc
        .constantFrom('/assets/', '/', '/room/', '/replay/')
        .chain((base) =>
          fc.constantFrom('..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', '..\\..\\package.json', '....//....//package.json', '%c0%ae%c0%ae/package.json', 'x%00.js', id).map((t) => base + t),
        ),
      segment.map((s) => `/api/interviews/${s}`),
      fc.tuple(segment, fc.constantFrom('invites', 'end', 'document', 'events', 'export', 'files.zip', 'nothing', '')).map(([s, tail]) => `/api/interviews/${s}/${tail}`),
      fc.tuple(segment, segment).map(([s, t]) => `/api/interviews/${s}/invites/${t}`),
      fc
        .tuple(fc.oneof(fc.constantFrom('-1', '0', '1e9', 'abc', '', '1.5', '[]', '99999999999999999999'), fc.string({ maxLength: 8 }).map(encodeURIComponent)), fc.constantFrom('after', 'limit', 'after[]', 'x', 'limit[$gt]'))
        .map(([v, k]) => `/api/interviews/${id}/events?${k}=${v}`),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      junkJson,
      fc.string({ maxLength: 50 }),
      fc.uint8Array({ maxLength: 50 }),
      // Near-valid bodies for the two POST bodies, with one field broken or a claim smuggled in.
      fc
        .record({
          title: fc.oneof(anyText({ maxLength: 20 }), fc.integer(), fc.constant('x'.repeat(LIMITS.titleChars + 1))),
          language: fc.oneof(fc.constantFrom('python', 'go', 'cobol'), fc.integer()),
          role: fc.constantFrom('admin', 'interviewer', 'candidate', 'reviewer', 'wizard'),
          name: fc.oneof(anyText({ maxLength: 10 }), fc.constant('')),
          expiresIn: fc.oneof(fc.integer(), fc.constant(1e12), fc.constant('60')),
          iid: fc.constant(id),
        }, { requiredKeys: [] })
        .map((o) => JSON.stringify(o)),
      fc.integer({ min: LIMITS.httpBodyBytes, max: LIMITS.httpBodyBytes + 1000 }).map((n) => JSON.stringify({ title: 'x'.repeat(n) })),
    );
    const req: fc.Arbitrary<Req> = fc.record({
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
      path,
      // Mostly real tokens, so that most requests get past authentication to the handlers and the store.
      token: fc.oneof(
        { arbitrary: fc.constantFrom(undefined, 'garbage', 'a.b.c'), weight: 1 },
        { arbitrary: fc.constantFrom(tokens.candidate, tokens.observer, tokens.reviewer, tokens.stranger, tokens.stranger), weight: 3 },
      ),
      authHeader: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: fc.constantFrom('Basic Zm9vOmJhcg==', 'Bearer', 'Bearer  ', 'bearer x y'), weight: 1 }),
      contentType: fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-16', 'application/json; charset=klingon', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'),
      contentEncoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'deflate', 'br', 'zstd', 'identity'),
      body,
    });

    let cases = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(req, { minLength: 10, maxLength: 30 }), async (batch) => {
        await Promise.all(
          batch.map(async (r) => {
            const headers: Record<string, string> = {};
            if (r.authHeader) headers.authorization = r.authHeader;
            else if (r.token) headers.authorization = `Bearer ${r.token}`;
            if (r.contentType) headers['content-type'] = r.contentType;
            if (r.contentEncoding) headers['content-encoding'] = r.contentEncoding;
            const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
            const res = await fetch(node.url + r.path, { method: r.method, headers, ...(hasBody ? { body: r.body } : {}) });
            const text = await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            expect(res.status, `${r.method} ${r.path.slice(0, 80)} -> ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
            // Nothing outside the client's directory is ever served.
            expect(text).not.toContain('"devDependencies"');
            if (r.method === 'HEAD' || res.status === 204) return;
            // The client's pages, its static files (405 to an OPTIONS) and the metrics are not JSON; everything under /api is.
            if (!r.path.startsWith('/api')) return;
            if (res.status >= 400) {
              let parsed: any;
              expect(() => (parsed = JSON.parse(text)), `${r.method} ${r.path.slice(0, 80)} -> ${res.status} ${JSON.stringify(text.slice(0, 100))}`).not.toThrow();
              expect(Object.keys(parsed)).toEqual(['error']);
              const code = parsed.error.code as keyof typeof ERROR_STATUS;
              expect(ERROR_STATUS[code], `unknown code ${code}`).toBe(res.status);
              expect(typeof parsed.error.message).toBe('string');
              expect(parsed.error.message).not.toMatch(/\n\s+at |node_modules/);
            }
            // No answer to anyone carries a token it was not minting.
            if (!(r.method === 'POST' && res.status === 201)) {
              for (const t of Object.values(tokens)) expect(text.includes(t)).toBe(false);
              expect(text.includes(iv.token)).toBe(false);
            }
          }),
        );
        cases += batch.length;
      }),
      { numRuns: runs(60) },
    );
    expect(cases).toBeGreaterThanOrEqual(runs(60) * 10);
    // The fuzzer got past authentication and the schemas, not only 401s.
    expect([...statuses.keys()].some((s) => s === 200 || s === 201)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(403)).toBeGreaterThan(0);
    await checkAfterFuzz(node, iv, bystander, before, new Set(), new Map());
  }, FUZZ_TIMEOUT);
});
