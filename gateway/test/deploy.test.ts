/**
 * Deployment files against the code: docker-compose.yml, Dockerfile.gateway, Dockerfile.triton,
 * .dockerignore and deploy/prometheus.yml must agree with the gateway's config schema, its routes,
 * what its compiled build loads (scripts/build.sh runs into a temporary folder) and the model
 * repository. No Docker is needed: the files are parsed here.
 * Each assertion below fails if one side changes without the other (a port, a variable name, a
 * route, a COPY source, a model config, a profile).
 *
 * Every assert.ok carries a message: without one, Node builds it by parsing the call site's source,
 * which on tsx's one-line output takes minutes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema } from '../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const at = (...p: string[]) => join(ROOT, ...p);
const read = (...p: string[]) => readFileSync(at(...p), 'utf8');
/** Repository-relative POSIX path of an absolute path. */
const rel = (abs: string) => relative(ROOT, abs).split(/[\\/]/).join('/');

const DEFAULTS = ConfigSchema.parse({});
const CONFIG_KEYS = new Set(Object.keys(ConfigSchema.shape));
const TRITON_READY_PATH = '/v2/health/ready';

// ---------------------------------------------------------------------------------------------
// Dockerfiles

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly name: string | undefined;
  readonly image: string;
  readonly instructions: Instruction[];
}
interface Dockerfile {
  readonly path: string;
  readonly globalArgs: Map<string, string>;
  readonly stages: Stage[];
}

/** Instructions with `\` continuations joined and comment lines dropped, grouped by stage. */
function parseDockerfile(path: string): Dockerfile {
  const logical: string[] = [];
  let pending = '';
  for (const raw of readFileSync(at(path), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const text of logical) {
    if (text === '') continue;
    const m = /^(\S+)\s*(.*)$/s.exec(text)!;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const [image, as, name] = args.split(/\s+/);
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, image: image!, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === 'ARG') for (const [k, v] of Object.entries(argDefaults(args))) globalArgs.set(k, v);
    } else {
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return { path, globalArgs, stages };
}

function argDefaults(args: string): Record<string, string> {
  const [name, ...rest] = args.split('=');
  return { [name!.trim()]: rest.join('=').trim() };
}

/** Leading `--flag=value` options of COPY/HEALTHCHECK/RUN, and what follows them. */
function splitFlags(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (let m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest); m; m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest)) {
    flags.set(m[1]!, m[2] ?? '');
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** Exec form (JSON array) or shell form of CMD/HEALTHCHECK CMD, as one string to search. */
function commandText(args: string): string {
  const trimmed = args.trim();
  return trimmed.startsWith('[') ? (JSON.parse(trimmed) as string[]).join(' ') : trimmed;
}

function envOfStage(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    const pairs = [...i.args.matchAll(/([A-Za-z_]\w*)=("[^"]*"|\S*)/g)];
    for (const [, k, v] of pairs) env.set(k!, v!.replace(/^"|"$/g, ''));
  }
  return env;
}

const only = <T>(items: T[], what: string): T => {
  assert.equal(items.length, 1, `expected exactly one ${what}, found ${items.length}`);
  return items[0]!;
};

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly dest: string;
}
function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const { flags, rest } = splitFlags(i.args);
      const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
      return { from: flags.get('from'), sources: parts.slice(0, -1), dest: parts.at(-1)! };
    });
}

function workdir(stage: Stage): string {
  const w = stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1);
  return w ? w.args : '/';
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (moby's patternmatcher: last matching rule wins; a rule matching a parent
// directory matches everything under it; `**` spans directories)

function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const IGNORE_RULES = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const negate = l.startsWith('!');
    const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
    return { negate, re: globRegex(pattern) };
  });

function dockerIgnored(path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of IGNORE_RULES) if (prefixes.some((p) => rule.re.test(p))) ignored = !rule.negate;
  return ignored;
}

function listFiles(dir: string): string[] {
  return readdirSync(at(dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(`${dir}/${e.name}`) : [`${dir}/${e.name}`],
  );
}

/** Context files a COPY source names (a glob expands within its directory). */
function contextFiles(source: string): string[] {
  const src = posix.normalize(source).replace(/\/+$/, '');
  if (/[*?[]/.test(src)) {
    const re = globRegex(src);
    return listFiles(posix.dirname(src)).filter((f) => re.test(f));
  }
  if (!existsSync(at(src))) return [];
  return statSync(at(src)).isDirectory() ? listFiles(src) : [src];
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

type Obj = Record<string, unknown>;
interface Service extends Obj {
  profiles?: string[];
  build?: { context?: string; dockerfile?: string; args?: Obj } | string;
  image?: string;
  environment?: Obj | string[];
  ports?: Array<string | number | { target: number; published?: number | string }>;
  volumes?: Array<string | { type: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  healthcheck?: { test?: string | string[] };
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; count?: unknown; capabilities?: string[] }> } } };
  command?: string | string[];
}

// Compose resolves `<<` merge keys; the yaml package does so only when asked.
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const SERVICES = compose.services;
const names = Object.keys(SERVICES);

/** `${VAR:-default}`, `${VAR-default}` and `${VAR}` as compose resolves them with VAR unset. */
const interpolate = (v: string) => v.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, dflt?: string) => dflt ?? '');

function environmentOf(s: Service): Record<string, string> {
  const env = s.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((e) => {
        const i = e.indexOf('=');
        return [i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1)] as const;
      })
    : Object.entries(env).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)] as const);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v)]));
}

const profilesOf = (s: Service) => s.profiles ?? [];
const buildOf = (s: Service) => (typeof s.build === 'string' ? { context: s.build } : s.build);
/** Repository-relative Dockerfile of a service built here, else undefined. */
function dockerfileOf(s: Service): string | undefined {
  const b = buildOf(s);
  if (!b) return undefined;
  return rel(resolve(ROOT, b.context ?? '.', b.dockerfile ?? 'Dockerfile'));
}
const servicesBuiltFrom = (dockerfile: string) => names.filter((n) => dockerfileOf(SERVICES[n]!) === dockerfile);

function containerPorts(s: Service): number[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return Number(p.target);
    const last = String(p).split(':').at(-1)!;
    return Number(last.replace(/\/(tcp|udp)$/, ''));
  });
}

function bindMounts(s: Service): Array<{ source: string; target: string }> {
  return (s.volumes ?? []).flatMap((v) => {
    if (typeof v === 'object') return v.type === 'bind' && v.source ? [{ source: v.source, target: v.target }] : [];
    const [source, target] = v.split(':');
    return source!.startsWith('.') || source!.startsWith('/') ? [{ source: source!, target: target! }] : [];
  });
}

function aliasesOf(s: Service): string[] {
  if (!s.networks || Array.isArray(s.networks)) return [];
  return Object.values(s.networks).flatMap((n) => n?.aliases ?? []);
}

/** Services a DNS name reaches on the compose network: by service name or network alias. */
const reachedBy = (host: string) => names.filter((n) => n === host || aliasesOf(SERVICES[n]!).includes(host));

function dependsOn(s: Service): Record<string, { condition?: string }> {
  const d = s.depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, {}])) : d;
}

const gpuDevices = (s: Service) => s.deploy?.resources?.reservations?.devices ?? [];

function hostPort(url: string): { host: string; port: number } {
  const m = /^(?:[a-z]+:\/\/)?([\w.-]+):(\d+)/.exec(url);
  assert.ok(m, `not host:port: ${url}`);
  return { host: m[1]!, port: Number(m[2]) };
}

// ---------------------------------------------------------------------------------------------
// The facts the files must agree with

const GATEWAY_DF = parseDockerfile('Dockerfile.gateway');
const TRITON_DF = parseDockerfile('Dockerfile.triton');
const gatewayServices = servicesBuiltFrom('Dockerfile.gateway');
const tritonServices = servicesBuiltFrom('Dockerfile.triton');

const tritonStage = only(TRITON_DF.stages, 'stage in Dockerfile.triton');
const tritonCmd = commandText(only(tritonStage.instructions.filter((i) => i.keyword === 'CMD'), 'CMD in Dockerfile.triton').args);
function tritonPort(flag: string): number {
  const m = new RegExp(`--${flag}[= ](\\d+)`).exec(tritonCmd);
  assert.ok(m, `Dockerfile.triton's CMD must set --${flag} explicitly: ${tritonCmd}`);
  return Number(m[1]);
}
const TRITON = { http: tritonPort('http-port'), grpc: tritonPort('grpc-port'), metrics: tritonPort('metrics-port') };

/** GET routes registered in gateway/src/http (routes.ts holds /healthz, /readyz, /metrics). */
const HTTP_SOURCES = readdirSync(at('gateway/src/http')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const GET_ROUTES = new Set(
  HTTP_SOURCES.flatMap((f) => [...read('gateway/src/http', f).matchAll(/\b(?:router|app)\.get\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!)),
);

const MODELS = readdirSync(at('model_repository'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);
const MODELS_WITH_CONFIGS = MODELS.filter((m) => existsSync(at('model_repository', m, 'configs')));

const PACKAGE = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('parses, with merge keys resolved, and the default services (no profile) are exactly triton and gateway', () => {
    assert.ok(names.length > 0, 'docker-compose.yml has no services');
    for (const n of names) assert.ok(SERVICES[n]!.build || SERVICES[n]!.image, `${n} has neither build nor image`);
    assert.deepEqual(names.filter((n) => profilesOf(SERVICES[n]!).length === 0).sort(), ['gateway', 'triton']);
    assert.equal(dockerfileOf(SERVICES['triton']!), 'Dockerfile.triton');
    assert.equal(dockerfileOf(SERVICES['gateway']!), 'Dockerfile.gateway');
    for (const p of ['cpu', 'perf', 'monitoring']) assert.ok(names.some((n) => profilesOf(SERVICES[n]!).includes(p)), `no service in profile ${p}`);
  });

  it('every build.dockerfile and every bind-mounted host path exists in the repository', () => {
    for (const n of names) {
      const df = dockerfileOf(SERVICES[n]!);
      if (df !== undefined) assert.ok(existsSync(at(df)), `${n}: ${df} does not exist`);
      for (const m of bindMounts(SERVICES[n]!)) {
        const source = rel(resolve(ROOT, m.source));
        assert.ok(!source.startsWith('..'), `${n}: ${m.source} is outside the repository`);
        assert.ok(existsSync(at(source)), `${n}: bind mount source ${m.source} does not exist`);
      }
    }
  });

  it('images are pinned to a version tag, never latest', () => {
    for (const n of names) {
      const image = SERVICES[n]!.image;
      if (image === undefined) continue;
      const tag = /:([^:/]+)$/.exec(image)?.[1];
      assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `${n}: image ${image} is not pinned`);
    }
  });
});

describe('gateway services', () => {
  it('exist: the default gateway and the cpu one', () => {
    assert.ok(gatewayServices.includes('gateway'), 'the gateway service is not built from Dockerfile.gateway');
    assert.ok(gatewayServices.some((n) => profilesOf(SERVICES[n]!).includes('cpu')), 'no gateway in the cpu profile');
  });

  it("publish the config schema's default PORT as the container port", () => {
    for (const n of gatewayServices) {
      const port = Number(environmentOf(SERVICES[n]!)['PORT'] ?? DEFAULTS.PORT);
      assert.deepEqual(containerPorts(SERVICES[n]!), [port], n);
      assert.equal(port, DEFAULTS.PORT, `${n} moves PORT away from the schema default`);
    }
  });

  it('set only variables the config schema knows, with values it accepts', () => {
    for (const n of gatewayServices) {
      const env = environmentOf(SERVICES[n]!);
      assert.ok(Object.keys(env).length > 0, `${n} sets no environment`);
      for (const k of Object.keys(env)) assert.ok(CONFIG_KEYS.has(k), `${n}: ${k} is not a key of ConfigSchema`);
      const parsed = ConfigSchema.safeParse(env);
      assert.ok(parsed.success, `${n}: ${JSON.stringify(parsed.error?.issues)}`);
    }
  });

  it("set TRITON_URL to a Triton service's gRPC port (as Dockerfile.triton serves it) in the same profile, and wait for it to be healthy", () => {
    for (const n of gatewayServices) {
      const s = SERVICES[n]!;
      const url = environmentOf(s)['TRITON_URL'];
      assert.ok(url, `${n} has no TRITON_URL`);
      const { host, port } = hostPort(url);
      const target = SERVICES[host];
      assert.ok(target, `${n}: TRITON_URL host ${host} is not a service name`);
      assert.equal(dockerfileOf(target), 'Dockerfile.triton', `${n}: ${host} is not a Triton service`);
      assert.deepEqual(profilesOf(target), profilesOf(s), `${n} and ${host} are in different profiles`);
      // Within the services started together, the name must reach that one service only.
      const together = reachedBy(host).filter((t) => JSON.stringify(profilesOf(SERVICES[t]!)) === JSON.stringify(profilesOf(s)));
      assert.deepEqual(together, [host], `${n}: ${host} is ambiguous`);
      assert.equal(port, TRITON.grpc, `${n}: TRITON_URL port ${port} is not Triton's --grpc-port ${TRITON.grpc}`);
      assert.equal(dependsOn(s)[host]?.condition, 'service_healthy', `${n} must wait for ${host} to be healthy`);
    }
  });

  it('mount the model repository read-only where MODEL_REPOSITORY points (the gateway reads tokenizer.json there)', () => {
    for (const n of gatewayServices) {
      const s = SERVICES[n]!;
      const repo = environmentOf(s)['MODEL_REPOSITORY'] ?? envOfStage(GATEWAY_DF.stages.at(-1)!).get('MODEL_REPOSITORY') ?? DEFAULTS.MODEL_REPOSITORY;
      const mount = bindMounts(s).find((m) => m.target === repo);
      assert.ok(mount, `${n}: nothing mounted at MODEL_REPOSITORY=${repo}`);
      assert.equal(rel(resolve(ROOT, mount.source)), 'model_repository');
      assert.ok((s.volumes ?? []).some((v) => typeof v === 'string' && v.startsWith(`${mount.source}:${repo}:ro`)), `${n}: mount it read-only`);
    }
  });
});

describe('triton services', () => {
  it('the default triton reserves NVIDIA GPUs; no service of the cpu profile does', () => {
    const devices = gpuDevices(SERVICES['triton']!);
    assert.ok(devices.some((d) => d.driver === 'nvidia' && (d.capabilities ?? []).includes('gpu')), 'triton reserves no GPU');
    const cpu = names.filter((n) => profilesOf(SERVICES[n]!).includes('cpu'));
    assert.ok(cpu.length >= 2, `cpu profile: ${cpu.join(', ')}`);
    for (const n of cpu) {
      assert.deepEqual(gpuDevices(SERVICES[n]!), [], `${n} reserves a device`);
      assert.notEqual(SERVICES[n]!['runtime'], 'nvidia', n);
      assert.equal(SERVICES[n]!['gpus'], undefined, n);
    }
  });

  it("the cpu profile's model-config-name exists as configs/<name>.pbtxt for every model that has configs/, and none asks for a GPU", () => {
    const cpuTritons = tritonServices.filter((n) => profilesOf(SERVICES[n]!).includes('cpu'));
    assert.ok(cpuTritons.length > 0, 'no Triton service in the cpu profile');
    assert.ok(MODELS_WITH_CONFIGS.length > 0, 'no model has a configs/ directory');
    for (const n of cpuTritons) {
      const s = SERVICES[n]!;
      const name = environmentOf(s)['MODEL_CONFIG_NAME'] || String(buildOf(s)?.args?.['MODEL_CONFIG_NAME'] ?? '');
      assert.equal(name, 'cpu', `${n}: MODEL_CONFIG_NAME`);
      for (const m of MODELS_WITH_CONFIGS) {
        const file = `model_repository/${m}/configs/${name}.pbtxt`;
        assert.ok(existsSync(at(file)), `${file} is missing: Triton would fall back to ${m}/config.pbtxt`);
        assert.doesNotMatch(read(file), /KIND_GPU|\bgpus\s*:/, `${file} asks for a GPU`);
      }
    }
  });

  // Triton falls back to config.pbtxt for a model without configs/cpu.pbtxt, and every config.pbtxt
  // here asks for KIND_GPU, which a host without GPUs refuses: the cpu profile loads only because
  // every model has its configs/ (written by model-tools/export/triton_configs.py).
  it('under the cpu profile, the config Triton picks for every model runs without a GPU', () => {
    for (const m of MODELS) {
      const cpu = `model_repository/${m}/configs/cpu.pbtxt`;
      const file = existsSync(at(cpu)) ? cpu : `model_repository/${m}/config.pbtxt`;
      assert.ok(existsSync(at(file)), `${m} has neither configs/cpu.pbtxt nor config.pbtxt: Triton would not load it`);
      assert.doesNotMatch(read(file), /KIND_GPU|\bgpus\s*:/, `${m}: Triton would load ${file}, which asks for a GPU`);
    }
  });

  it('any other MODEL_CONFIG_NAME a Triton service sets by default also exists for every model with configs/', () => {
    for (const n of tritonServices) {
      const name = environmentOf(SERVICES[n]!)['MODEL_CONFIG_NAME'];
      if (!name) continue; // empty: config.pbtxt
      for (const m of MODELS_WITH_CONFIGS) assert.ok(existsSync(at('model_repository', m, 'configs', `${name}.pbtxt`)), `${n}: ${m}/configs/${name}.pbtxt`);
    }
  });

  it("publish the ports Dockerfile.triton's CMD serves and check readiness on its HTTP port", () => {
    for (const n of tritonServices) {
      const s = SERVICES[n]!;
      assert.deepEqual(containerPorts(s).sort(), [TRITON.http, TRITON.grpc, TRITON.metrics].sort(), n);
      const test = s.healthcheck?.test;
      assert.ok(test, `${n} has no healthcheck`);
      const url = (Array.isArray(test) ? test.join(' ') : test).match(/https?:\/\/(?:localhost|127\.0\.0\.1):(\d+)(\/\S*)/);
      assert.ok(url, `${n}: healthcheck calls no local URL`);
      assert.equal(Number(url[1]), TRITON.http, `${n}: healthcheck port`);
      assert.equal(url[2], TRITON_READY_PATH, `${n}: healthcheck must use readiness`);
      assert.ok((s.shm_size as string | undefined) !== undefined, `${n}: set shm_size`);
      const repo = bindMounts(s).find((m) => m.target === '/models');
      assert.ok(repo && rel(resolve(ROOT, repo.source)) === 'model_repository', `${n}: mount model_repository at /models`);
    }
  });

  it('services of a profile depend only on services of the same profile (so `up <service>` never starts the GPU stack)', () => {
    for (const n of names) {
      for (const dep of Object.keys(dependsOn(SERVICES[n]!))) {
        assert.ok(SERVICES[dep], `${n} depends on unknown ${dep}`);
        assert.deepEqual(profilesOf(SERVICES[dep]!), profilesOf(SERVICES[n]!), `${n} → ${dep}`);
      }
    }
  });
});

describe('Dockerfile.triton', () => {
  it('starts from a pinned YY.MM-py3 Triton image', () => {
    assert.match(tritonStage.image, /^nvcr\.io\/nvidia\/tritonserver:\d{2}\.\d{2}-py3$/);
  });

  it('bakes the model repository into /models and serves it with model configs required as written', () => {
    const c = only(copies(tritonStage).filter((x) => x.dest.replace(/\/$/, '') === '/models'), 'COPY to /models');
    assert.deepEqual(c.sources, ['model_repository']);
    assert.match(tritonCmd, /^(?:\S*\/)?(?:sh|bash) -c (?:exec )?tritonserver |^tritonserver /);
    assert.match(tritonCmd, /--model-repository=\/models\b/);
    assert.match(tritonCmd, /--disable-auto-complete-config\b|--strict-model-config=true\b/);
  });

  it('passes MODEL_CONFIG_NAME (a build ARG and an ENV) to --model-config-name, and leaves it out when empty', () => {
    assert.ok(tritonStage.instructions.some((i) => i.keyword === 'ARG' && /^MODEL_CONFIG_NAME\b/.test(i.args)), 'ARG MODEL_CONFIG_NAME');
    assert.equal(envOfStage(tritonStage).get('MODEL_CONFIG_NAME'), '${MODEL_CONFIG_NAME}');
    assert.match(tritonCmd, /\$\{MODEL_CONFIG_NAME:\+--model-config-name=\$\{?MODEL_CONFIG_NAME\}?\}/);
  });

  it('exposes HTTP, gRPC and metrics, with a HEALTHCHECK on readiness', () => {
    const exposed = tritonStage.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.replace(/\/tcp$/, ''))));
    assert.deepEqual(exposed.sort(), [TRITON.http, TRITON.grpc, TRITON.metrics].sort());
    const hc = only(tritonStage.instructions.filter((i) => i.keyword === 'HEALTHCHECK'), 'HEALTHCHECK');
    const m = /https?:\/\/(?:localhost|127\.0\.0\.1):(\d+)(\/\S*)/.exec(splitFlags(hc.args).rest);
    assert.ok(m, 'HEALTHCHECK calls no local URL');
    assert.equal(Number(m[1]), TRITON.http);
    assert.equal(m[2], TRITON_READY_PATH);
  });
});

describe('Dockerfile.gateway', () => {
  const build = GATEWAY_DF.stages[0]!;
  const runtime = GATEWAY_DF.stages.at(-1)!;
  const runtimeEnv = envOfStage(runtime);
  const cmd = only(runtime.instructions.filter((i) => i.keyword === 'CMD'), 'CMD in the runtime stage');
  const cmdArgs = JSON.parse(cmd.args) as string[];
  const entry = cmdArgs.find((a) => /\.m?js$/.test(a)) ?? '';
  const runIndex = (re: RegExp) => build.instructions.findIndex((i) => i.keyword === 'RUN' && re.test(i.args));
  const ci = runIndex(/\bnpm ci\b/);
  const buildRun = runIndex(/\bnpm run build\b/);
  const prune = runIndex(/\bnpm prune --omit=dev\b/);

  /** Context files copied into the build stage before instruction `index`, checked to keep the repository layout. */
  function copiedBefore(index: number): Set<string> {
    const base = workdir(build);
    const files = new Set<string>();
    for (const c of copies({ ...build, instructions: build.instructions.slice(0, index) })) {
      for (const src of c.sources) {
        const repoPath = posix.normalize(src).replace(/\/+$/, '');
        const dest = c.dest.endsWith('/') || c.dest === '.' ? posix.join(c.dest, posix.basename(repoPath)) : c.dest;
        assert.equal(posix.relative(base, posix.resolve(base, dest)), repoPath, `COPY ${src} ${c.dest} does not keep the repository layout`);
        for (const f of contextFiles(src)) if (!dockerIgnored(f)) files.add(f);
      }
    }
    return files;
  }

  /** Where each runtime COPY lands, as the path it has in the build stage; a lookup for what covers a path. */
  function runtimeCopies(): (f: string) => { path: string; fromBuild: boolean } | undefined {
    const base = workdir(runtime);
    const buildBase = workdir(build);
    const present: Array<{ path: string; fromBuild: boolean }> = [];
    for (const c of copies(runtime)) {
      for (const src of c.sources) {
        const path = c.from === undefined ? posix.normalize(src).replace(/\/+$/, '') : posix.relative(buildBase, src);
        const dest = c.dest.endsWith('/') || c.dest === '.' ? posix.join(c.dest, posix.basename(path)) : c.dest;
        // The same layout as in the build stage, where `node dist/...` was built to run.
        assert.equal(posix.relative(base, posix.resolve(base, dest)), path, `COPY ${src} ${c.dest} does not keep the build stage's layout`);
        present.push({ path, fromBuild: c.from !== undefined });
      }
    }
    return (f) => present.find((p) => f === p.path || f.startsWith(`${p.path}/`));
  }

  it('builds in one stage and runs in another, both from a pinned Node 20 image', () => {
    assert.ok(GATEWAY_DF.stages.length >= 2, 'multi-stage');
    for (const s of GATEWAY_DF.stages) {
      const image = s.image.replace(/^\$\{?(\w+)\}?$/, (_, a: string) => GATEWAY_DF.globalArgs.get(a) ?? '');
      assert.match(image, /^node:20[\w.-]*$/, `stage ${s.name}: ${s.image}`);
    }
  });

  it('installs from package.json and the lockfile without install scripts, builds, then prunes dev dependencies, in that order', () => {
    assert.ok(ci >= 0 && buildRun > ci && prune > buildRun, `npm ci (${ci}) < npm run build (${buildRun}) < npm prune (${prune})`);
    // The image's npm (10 on Node 20) does not read package.json's allowScripts, so without
    // --ignore-scripts it would run onnxruntime-node's postinstall, a CUDA download.
    assert.match(build.instructions[ci]!.args, /\bnpm ci\b.*--ignore-scripts\b/, 'npm ci must run with --ignore-scripts');
    assert.deepEqual([...copiedBefore(ci)].sort(), ['package-lock.json', 'package.json'], 'only the package files come before npm ci (its layer is cached while sources change)');
    // `npm run build` as package.json defines it: the proto script, then scripts/build.sh.
    const protoScript = /\bbash\s+(\S+)/.exec(PACKAGE.scripts['proto'] ?? '')?.[1];
    assert.ok(protoScript, 'package.json scripts.proto');
    assert.match(PACKAGE.scripts['build'] ?? '', /^npm run proto && bash scripts\/build\.sh$/);
    for (const needed of [protoScript, 'scripts/build.sh', 'tsconfig.json', 'tsconfig.build.json', 'proto/model_config.proto', 'proto/grpc_service.proto', 'proto/health.proto']) {
      assert.ok(copiedBefore(buildRun).has(needed), `${needed} is not copied before npm run build`);
    }
  });

  it('runs as a non-root user', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1);
    assert.ok(user, 'no USER in the runtime stage');
    assert.doesNotMatch(user.args, /^(root|0)(:|$)/);
  });

  it("sets PORT to the schema default and EXPOSEs it; every ENV is a config key the schema accepts", () => {
    assert.equal(Number(runtimeEnv.get('PORT')), DEFAULTS.PORT);
    const exposed = runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.replace(/\/tcp$/, ''))));
    assert.deepEqual(exposed, [DEFAULTS.PORT]);
    const config = Object.fromEntries([...runtimeEnv].filter(([k]) => k !== 'NODE_ENV'));
    for (const k of Object.keys(config)) assert.ok(CONFIG_KEYS.has(k), `ENV ${k} is not a key of ConfigSchema`);
    assert.ok(ConfigSchema.safeParse(config).success, `ConfigSchema rejects ${JSON.stringify(config)}`);
    assert.equal(runtimeEnv.get('MODEL_REPOSITORY'), '/models');
  });

  it('HEALTHCHECK fetches a GET route the gateway serves, on its default PORT', () => {
    const hc = only(runtime.instructions.filter((i) => i.keyword === 'HEALTHCHECK'), 'HEALTHCHECK');
    const text = commandText(splitFlags(hc.args).rest.replace(/^CMD\s+/, ''));
    assert.match(text, /\bfetch\(/);
    const paths = [...text.matchAll(/['"](\/[\w/-]+)['"]/g)].map((m) => m[1]!);
    assert.deepEqual(paths, ['/readyz']);
    for (const p of paths) assert.ok(GET_ROUTES.has(p), `${p} is not a GET route in gateway/src/http (${[...GET_ROUTES].join(', ')})`);
    assert.equal(Number(/\|\|\s*(\d+)/.exec(text)?.[1]), DEFAULTS.PORT, 'fallback port');
  });

  it('every COPY source exists and is not excluded by .dockerignore (both Dockerfiles)', () => {
    for (const df of [GATEWAY_DF, TRITON_DF]) {
      for (const stage of df.stages) {
        for (const c of copies(stage).filter((x) => x.from === undefined)) {
          for (const src of c.sources) {
            const files = contextFiles(src).filter((f) => !dockerIgnored(f));
            assert.ok(files.length > 0, `${df.path}: COPY ${src}: nothing in the build context`);
          }
        }
      }
    }
  });

  it('.dockerignore keeps dependencies, VCS, caches, generated code and tools out of the context', () => {
    for (const p of ['node_modules/zod/package.json', 'modelserver/node_modules/x', 'dist/gateway/src/main.js', '.git/HEAD', '.cache/x', 'proto/gen/grpc_service.ts', 'perf/results/gateway.json', 'model-tools/python/common.py', 'model-tools/python/__pycache__/common.cpython-311.pyc', 'gateway/test/deploy.test.ts', 'gateway/src/preprocess/decode-image.test.ts']) {
      assert.ok(dockerIgnored(p), `${p} should be ignored`);
    }
    for (const p of ['gateway/src/main.ts', 'modelserver/src/index.ts', 'proto/model_config.proto', 'model_repository/caption_decoder/tokenizer.json', 'package-lock.json', 'tsconfig.build.json', 'scripts/build.sh', 'gateway/public/index.html']) {
      assert.ok(!dockerIgnored(p), `${p} must stay in the context`);
    }
  });

  it('runs the compiled entry point, as npm start does: node on dist/, no loader', () => {
    assert.equal(cmdArgs[0], 'node', `CMD ${cmd.args}`);
    assert.ok(!cmdArgs.includes('--import') && !cmdArgs.includes('--loader'), `CMD ${cmd.args} loads a loader`);
    // `exec`: npm's shell becomes node, so the SIGTERM npm forwards reaches the gateway.
    assert.equal(PACKAGE.scripts['start'], `exec node ${entry}`, 'CMD runs what npm start runs after its build');
    assert.match(entry, /^dist\/.+\.js$/);
  });

  it('the runtime stage holds every file and package the compiled gateway loads, built from sources the build stage copies', () => {
    // The real build (scripts/build.sh, what `npm run build` runs after `npm run proto`) into a
    // temporary dist/; then what node loads from the CMD's entry point, followed through it.
    const out = mkdtempSync(join(tmpdir(), 'deploy-test-dist-'));
    try {
      execFileSync('bash', ['scripts/build.sh', out], { cwd: ROOT, stdio: 'pipe' });
      const { files, packages, sourcesOnly } = compiledClosure(out, entry);
      assert.ok(files.size > 20, `only ${files.size} files reached from ${entry}`);
      assert.ok(files.has('dist/modelserver/src/backend/onnx-worker.js'), 'the compiled server does not start the compiled worker');
      // The embedded server runs protoc on dist/proto/model_config.proto (the closure sees only the folder).
      for (const f of readdirSync(at('proto')).filter((x) => x.endsWith('.proto'))) assert.ok(files.has('dist/proto') && existsSync(join(out, 'proto', f)), `dist/proto/${f}`);
      assert.deepEqual([...sourcesOnly].sort(), [...SOURCES_ONLY].sort(), 'SOURCES_ONLY lists a file the compiled code no longer names');
      const covering = runtimeCopies();
      for (const f of files) {
        assert.ok(existsSync(join(out, posix.relative(DIST, f))), `${f} is loaded at run time but the build does not write it`);
        assert.ok(covering(f)?.fromBuild, `${f} is loaded at run time but not copied from the build stage into the runtime stage`);
      }
      for (const p of packages) {
        assert.ok(p in PACKAGE.dependencies, `${p} is loaded at run time but is ${p in PACKAGE.devDependencies ? 'a devDependency (npm prune --omit=dev removes it)' : 'not a dependency'}`);
      }
      assert.ok(covering('node_modules/zod/package.json')?.fromBuild, 'node_modules comes from the build stage');
      // Every file the build writes comes from the build context, copied before `npm run build`
      // (proto/gen is generated there); the runtime gets nothing else from the repository.
      const copied = copiedBefore(buildRun);
      for (const f of listTree(out).filter((x) => !x.endsWith('.js.map'))) {
        const source = sourceOf(f);
        if (source.startsWith('proto/gen/')) continue;
        assert.ok(existsSync(at(source)), `the build writes ${f}, but ${source} is not in the repository`);
        assert.ok(copied.has(source) && !dockerIgnored(source), `the build writes ${f} from ${source}, which is not copied into the build stage before npm run build`);
      }
      for (const c of copies(runtime)) assert.ok(c.from !== undefined, `COPY ${c.sources.join(' ')}: the runtime stage copies from the build stage only`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('perf and monitoring profiles', () => {
  const k6 = SERVICES['k6'];
  const K6_SCRIPT = 'perf/k6/caption.ts';

  it('k6 runs perf/k6/caption.ts from the mounted ./perf against a gateway service on its PORT', () => {
    assert.ok(k6 && profilesOf(k6).includes('perf'), 'no k6 service in the perf profile');
    const command = Array.isArray(k6.command) ? k6.command : String(k6.command ?? '').split(/\s+/);
    const script = command.find((a) => /\.(ts|js)$/.test(a));
    assert.ok(script, 'k6 runs no script');
    const inContainer = posix.resolve(String(k6['working_dir'] ?? '/'), script);
    const mount = bindMounts(k6).find((m) => inContainer.startsWith(`${m.target}/`));
    assert.ok(mount, `${inContainer} is not under a mounted directory`);
    assert.equal(rel(resolve(ROOT, mount.source, posix.relative(mount.target, inContainer))), K6_SCRIPT);
    const { host, port } = hostPort(environmentOf(k6)['BASE_URL'] ?? '');
    assert.ok(reachedBy(host).length > 0 && reachedBy(host).every((n) => gatewayServices.includes(n)), `BASE_URL host ${host}`);
    assert.equal(port, DEFAULTS.PORT);
  });

  it('k6 sets only variables the script reads', () => {
    assert.ok(existsSync(at(K6_SCRIPT)), `${K6_SCRIPT} is missing`);
    const script = read(K6_SCRIPT);
    const env = Object.keys(environmentOf(k6!));
    assert.ok(env.length > 0, 'k6 sets no environment');
    for (const k of env) assert.match(script, new RegExp(`__ENV\\.${k}\\b|__ENV\\[['"]${k}['"]\\]|\\(\\s*['"]${k}['"]`), `${K6_SCRIPT} never reads ${k}`);
  });

  const prometheus = SERVICES['prometheus'];
  const configMount = prometheus ? bindMounts(prometheus).find((m) => m.target === '/etc/prometheus/prometheus.yml') : undefined;
  type ScrapeConfig = { job_name: string; metrics_path?: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number; type?: string }> };
  const scrape = configMount && existsSync(resolve(ROOT, configMount.source))
    ? (parseYaml(readFileSync(resolve(ROOT, configMount.source), 'utf8')) as { scrape_configs: ScrapeConfig[] }).scrape_configs
    : [];
  const targetsOf = (job: ScrapeConfig) => [
    ...(job.static_configs ?? []).flatMap((s) => s.targets.map(hostPort)),
    ...(job.dns_sd_configs ?? []).flatMap((d) => d.names.map((host) => ({ host, port: d.port }))),
  ];

  it('prometheus (monitoring profile) loads deploy/prometheus.yml', () => {
    assert.ok(prometheus && profilesOf(prometheus).includes('monitoring'), 'no prometheus service in the monitoring profile');
    assert.ok(configMount, 'nothing mounted at /etc/prometheus/prometheus.yml');
    assert.equal(rel(resolve(ROOT, configMount.source)), 'deploy/prometheus.yml');
  });

  it('scrapes every default gateway and Triton service by name on the right port, and nothing else', () => {
    const targets = scrape.flatMap(targetsOf);
    assert.ok(targets.length > 0, 'prometheus.yml has no targets');
    const scraped = new Set<string>();
    for (const { host, port } of targets) {
      const reached = reachedBy(host);
      assert.ok(reached.length > 0, `${host} is no service or alias`);
      for (const n of reached) {
        scraped.add(n);
        const df = dockerfileOf(SERVICES[n]!);
        if (df === 'Dockerfile.gateway') assert.equal(port, DEFAULTS.PORT, `${host}: gateway PORT`);
        else if (df === 'Dockerfile.triton') assert.equal(port, TRITON.metrics, `${host}: Triton --metrics-port`);
        else assert.fail(`${host} reaches ${n}, which is neither the gateway nor Triton`);
      }
    }
    for (const n of [...gatewayServices, ...tritonServices]) assert.ok(scraped.has(n), `${n} is not scraped`);
  });

  it('scrapes Triton at /metrics', () => {
    const jobs = scrape.filter((j) => targetsOf(j).some((t) => reachedBy(t.host).some((n) => tritonServices.includes(n))));
    assert.ok(jobs.length > 0, 'no scrape job reaches Triton');
    for (const j of jobs) assert.equal(j.metrics_path ?? '/metrics', '/metrics');
  });

  it('scrapes the gateway at a GET route it serves', () => {
    const jobs = scrape.filter((j) => targetsOf(j).some((t) => reachedBy(t.host).some((n) => gatewayServices.includes(n))));
    assert.ok(jobs.length > 0, 'no scrape job reaches the gateway');
    for (const j of jobs) assert.ok(GET_ROUTES.has(j.metrics_path ?? '/metrics'), `${j.metrics_path ?? '/metrics'} is not a gateway route`);
  });
});

// ---------------------------------------------------------------------------------------------
// What `node dist/gateway/src/main.js` loads from a build written to `out` (standing for dist/):
// relative imports, files found with new URL(…, import.meta.url) or createRequire(import.meta.url),
// and the packages of bare specifiers. tsc has erased type-only imports.

const DIST = 'dist';
/**
 * Files the compiled code names but loads only when it runs from .ts sources under tsx:
 * modelserver/src/backend/onnx-instance.ts starts its worker through the tsx bootstrap then.
 */
const SOURCES_ONLY = new Set(['dist/modelserver/src/backend/ts-worker-bootstrap.mjs', 'dist/modelserver/src/backend/onnx-worker.ts']);

/** Every file under an absolute directory, relative to it, as POSIX paths under dist/. */
function listTree(dir: string, sub = ''): string[] {
  return readdirSync(join(dir, sub), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTree(dir, posix.join(sub, e.name)) : [posix.join(DIST, sub, e.name)],
  );
}

/** The repository file a build output under dist/ comes from: x.js from x.ts, a copied file from itself. */
function sourceOf(distPath: string): string {
  const p = posix.relative(DIST, distPath);
  const ts = p.replace(/\.js$/, '.ts');
  return p.endsWith('.js') && (existsSync(at(ts)) || ts.startsWith('proto/gen/')) ? ts : p;
}

function compiledClosure(out: string, entry: string): { files: Set<string>; packages: Set<string>; sourcesOnly: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const sourcesOnly = new Set<string>();
  const builtins = new Set(builtinModules);
  const queue = [entry];
  const patterns = [
    /\b(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bnew URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
    /\bcreateRequire\(import\.meta\.url\)(?:\.resolve)?\(\s*['"]([^'"]+)['"]/g,
  ];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file) || sourcesOnly.has(file)) continue;
    if (SOURCES_ONLY.has(file)) {
      sourcesOnly.add(file);
      continue;
    }
    files.add(file);
    const path = join(out, posix.relative(DIST, file));
    if (!/\.m?js$/.test(file) || !existsSync(path)) continue; // a missing file fails in the caller
    const source = readFileSync(path, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const re of patterns) {
      for (const m of source.matchAll(re)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) queue.push(posix.normalize(posix.join(posix.dirname(file), spec)));
        else if (!spec.startsWith('node:') && !builtins.has(spec)) {
          const parts = spec.split('/');
          packages.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
        }
      }
    }
  }
  return { files, packages, sourcesOnly };
}
