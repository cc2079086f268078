/**
 * No container engine runs here, so the deployment files are checked by
 * reading them: they must name real scripts, ports, environment variables the
 * config knows (with values it accepts), and probe paths a node answers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_NAMES, loadConfig } from '../server/config.js';
import { api, startNode } from './helpers.js';

const ROOT = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
const DEFAULT_PORT = loadConfig({}).port;
/** The shutdown bound in server/main.ts (process.exit after it). */
const SHUTDOWN_BOUND_S = 10;

/** `${VAR:-default}` and `${VAR:?message}` as compose resolves them, with VAR unset or set. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, op?: string, rest?: string) => {
    if (vars[name] !== undefined) return vars[name]!;
    if (op === '-') return rest ?? '';
    throw new Error(`${name} is required: ${rest}`);
  });
}

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM /i.test(l));
  const runtime = lines.slice(lines.lastIndexOf(stages[stages.length - 1]!));

  it('is multi-stage, installs production dependencies only for the runtime, and runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => /npm ci .*--omit=dev/.test(l))).toBe(true);
    const nodeModulesFrom = runtime.find((l) => /^COPY --from=(\w+).* \/app\/node_modules/.test(l))?.match(/--from=(\w+)/)?.[1];
    const depsStage = lines.slice(lines.findIndex((l) => new RegExp(`AS ${nodeModulesFrom}$`, 'i').test(l)));
    expect(depsStage.slice(0, depsStage.findIndex((l, i) => i > 0 && /^FROM /.test(l))).some((l) => /--omit=dev/.test(l))).toBe(true);
    const user = runtime.filter((l) => /^USER /.test(l)).pop()?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('runs what `npm start` runs, builds with a real script, copies paths that exist, and exposes the default port', () => {
    const cmd = runtime.find((l) => /^CMD /.test(l))!;
    // The same command word for word: the node flags too (--single-threaded-gc).
    expect(JSON.parse(cmd.slice('CMD '.length))).toEqual(pkg.scripts.start!.split(/\s+/));
    for (const l of lines.filter((x) => /^RUN npm run /.test(x))) {
      expect(Object.keys(pkg.scripts)).toContain(l.split(/\s+/)[3]);
    }
    for (const l of lines.filter((x) => /^COPY /.test(x) && !x.includes('--from'))) {
      const parts = l.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(1, -1)) expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
    expect(runtime.find((l) => /^EXPOSE /.test(l))).toBe(`EXPOSE ${DEFAULT_PORT}`);
    const env = runtime.filter((l) => /^ENV /.test(l)).join(' ');
    for (const name of env.matchAll(/(\w+)=/g)) {
      if (name[1] !== 'NODE_ENV') expect(ENV_NAMES).toContain(name[1]);
    }
    expect(runtime.find((l) => /^HEALTHCHECK /.test(l))).toMatch(/\/healthz/);
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });
});

describe('docker-compose.yml and deploy/nginx.conf', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { build?: unknown; image?: string; environment?: Record<string, string>; volumes?: string[]; healthcheck?: { test: string[] } }>;
  };
  const nodes = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
  const nginx = compose.services.nginx!;
  const conf = read('deploy/nginx.conf');

  it('runs two or more Duet nodes whose environment the config accepts', () => {
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    for (const [, service] of nodes) {
      const env = Object.fromEntries(
        Object.entries(service.environment!).map(([k, v]) => [k, interpolate(String(v), { JWT_SECRET: 'x'.repeat(48) })]),
      );
      for (const name of Object.keys(env)) expect(ENV_NAMES).toContain(name);
      const config = loadConfig(env);
      expect(config.databaseUrl).toBeDefined();
      expect(config.redisUrl).toBeDefined();
      // Their hosts are services of this file, of the right kind.
      expect(compose.services[new URL(config.databaseUrl!).hostname]?.image).toMatch(/^postgres/);
      expect(compose.services[new URL(config.redisUrl!).hostname]?.image).toMatch(/^redis/);
      expect(service.healthcheck!.test.join(' ')).toMatch(/\/readyz/);
      expect(() => interpolate(String(service.environment!.JWT_SECRET), {})).toThrow(/required/);
    }
  });

  it('puts nginx in front of every node: WebSocket upgrade, routed by interview (so sticky for polling), the nodes\u2019 port', () => {
    expect(nginx.volumes!.some((v) => v.startsWith('./deploy/nginx.conf:'))).toBe(true);
    const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(conf)!;
    // The key: the interview the browser client names in its query, else the client's address (test/nginx-routing.test.ts runs it).
    const key = /^\s*hash \$(\w+) consistent;/m.exec(upstream[2]!)![1]!;
    const route = new RegExp(`map \\$arg_interview \\$${key}\\s*\\{([^}]*)\\}`).exec(conf)![1]!;
    expect(route).toMatch(/""\s+\$remote_addr;/);
    expect(route).toMatch(/default\s+\$arg_interview;/);
    const servers = [...upstream[2]!.matchAll(/server\s+([\w-]+):(\d+)/g)].map((m) => [m[1], Number(m[2])]);
    const expected = nodes.map(([name, s]) => [name, loadConfig({ PORT: s.environment!.PORT }).port]);
    expect(servers.sort()).toEqual(expected.sort());
    expect(conf).toContain(`proxy_pass http://${upstream[1]};`);
    expect(conf).toMatch(/proxy_http_version 1\.1;/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    const readTimeout = Number(/proxy_read_timeout (\d+)s;/.exec(conf)![1]);
    expect(readTimeout).toBeGreaterThan(20); // Socket.IO ping interval + timeout
  });
});

describe('deploy/kubernetes', () => {
  const dir = 'deploy/kubernetes';
  const kustomization = parse(read(`${dir}/kustomization.yaml`)) as { resources: string[] };
  const docs = kustomization.resources.flatMap((file) => parseAllDocuments(read(`${dir}/${file}`)).map((d) => d.toJS() as any));
  const one = (kind: string) => {
    const found = docs.filter((d) => d.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0];
  };

  it('has every piece, wired to each other by name and label', () => {
    const deployment = one('Deployment');
    const service = one('Service');
    const ingress = one('Ingress');
    const hpa = one('HorizontalPodAutoscaler');
    const pdb = one('PodDisruptionBudget');
    const podLabels = deployment.spec.template.metadata.labels;
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(matches(deployment.spec.selector.matchLabels)).toBe(true);
    expect(matches(service.spec.selector)).toBe(true);
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const container = deployment.spec.template.spec.containers[0];
    const portNames = container.ports.map((p: any) => p.name);
    expect(portNames).toContain(service.spec.ports[0].targetPort);
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(service.metadata.name);
    expect(service.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
    // Session affinity for the long-polling fallback, at the ingress and the Service.
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
    expect(service.spec.sessionAffinity).toBe('ClientIP');
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(SHUTDOWN_BOUND_S);
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });

  it('configures the node through a ConfigMap and a Secret the config accepts, on the port it listens on', () => {
    const deployment = one('Deployment');
    const configMap = one('ConfigMap');
    const secret = one('Secret');
    const container = deployment.spec.template.spec.containers[0];
    const refs = container.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(refs.sort()).toEqual([configMap.metadata.name, secret.metadata.name].sort());
    const env = { ...configMap.data, ...secret.stringData } as Record<string, string>;
    for (const name of Object.keys(env)) expect(ENV_NAMES).toContain(name);
    expect(Object.keys(secret.stringData).sort()).toEqual(['DATABASE_URL', 'JWT_SECRET', 'REDIS_URL']);
    const config = loadConfig(env);
    expect(container.ports[0].containerPort).toBe(config.port);
  });

  it('probes /healthz for liveness and /readyz for readiness, on the container port', () => {
    const container = one('Deployment').spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      expect(container.ports.map((p: any) => p.name)).toContain(probe.httpGet.port);
    }
  });

  it('every probe path in the deployment files is one a node answers with 200', async () => {
    const paths = new Set<string>();
    const deployment = one('Deployment');
    const c = deployment.spec.template.spec.containers[0];
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) paths.add(probe.httpGet.path);
    for (const text of [read('docker-compose.yml'), read('Dockerfile')]) {
      for (const m of text.matchAll(/127\.0\.0\.1:[^/]*(\/\w+)/g)) paths.add(m[1]!);
    }
    expect([...paths].sort()).toEqual(['/healthz', '/readyz']);
    const node = await startNode();
    for (const path of paths) expect((await api(node.url, path)).status, path).toBe(200);
  });
});
