/**
 * Checks perf/k6/caption.ts without a k6 binary:
 *  - it transpiles (as k6 would, types stripped) to an ES module that V8 parses (`node --check`);
 *  - it imports only `k6` and `k6/*` modules (k6 has no Node built-ins);
 *  - run in a bare vm context with stand-ins for the k6 modules, it exports `options` (a
 *    ramping-arrival-rate and a constant-vus scenario, thresholds per scenario and endpoint and on
 *    http_req_failed), a default function that posts multipart images to /caption and /classify
 *    with the right checks, and handleSummary; every image it open()s exists;
 *  - it typechecks against @types/k6 with perf/k6/tsconfig.json, and that typecheck does catch a
 *    misuse of the k6 API.
 * Run: node --import tsx --test perf/k6/k6-script.test.ts
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import ts from 'typescript';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'caption.ts');
const TSCONFIG = join(HERE, 'tsconfig.json');
const source = readFileSync(SCRIPT, 'utf8');

function transpile(module: ts.ModuleKind): string {
  const out = ts.transpileModule(source, {
    fileName: SCRIPT,
    reportDiagnostics: true,
    compilerOptions: { module, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
  });
  assert.deepEqual(out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')) ?? [], []);
  return out.outputText;
}

/** Every module specifier in `code`: static imports and re-exports, import(), require(). */
function moduleSpecifiers(code: string, kind: ts.ScriptKind): string[] {
  const sf = ts.createSourceFile('x', code, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      const arg = node.arguments[0];
      found.push(arg && ts.isStringLiteral(arg) ? arg.text : '<dynamic>');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

interface Posted {
  url: string;
  body: Record<string, { data: ArrayBuffer; filename: string; contentType: string }>;
  params: { tags?: Record<string, string>; timeout?: string | number };
}
interface Checked {
  names: string[];
  results: Record<string, boolean>;
  tags: Record<string, string> | undefined;
}
interface Loaded {
  exports: Record<string, unknown>;
  /** The exported options, copied out of the vm's realm (its arrays fail deepStrictEqual here). */
  options: { scenarios: Record<string, Record<string, unknown>>; thresholds: Record<string, string[]> };
  opened: Array<{ path: string; mode: string | undefined }>;
  posted: Posted[];
  checked: Checked[];
  trend: Array<{ value: number; tags: Record<string, string> | undefined }>;
  /** What the fake http.post answers next. */
  respond: { status: number; body: string; headers: Record<string, string> };
  execution: { scenario: { iterationInTest: number } };
}

/** Runs the script (CommonJS transpile) in a bare context with the k6 modules faked. */
function load(env: Record<string, string> = {}): Loaded {
  const js = transpile(ts.ModuleKind.CommonJS);
  const state: Loaded = {
    exports: {},
    options: { scenarios: {}, thresholds: {} },
    opened: [],
    posted: [],
    checked: [],
    trend: [],
    respond: { status: 200, body: '{}', headers: {} },
    execution: { scenario: { iterationInTest: 0 } },
  };
  const modules: Record<string, unknown> = {
    k6: {
      check: (val: unknown, sets: Record<string, (v: unknown) => boolean>, tags?: Record<string, string>) => {
        const results = Object.fromEntries(Object.entries(sets).map(([name, fn]) => [name, fn(val)]));
        state.checked.push({ names: Object.keys(sets), results, tags });
        return Object.values(results).every(Boolean);
      },
    },
    'k6/execution': { __esModule: true, default: state.execution },
    'k6/http': {
      __esModule: true,
      default: {
        file: (data: ArrayBuffer, filename: string, contentType: string) => ({ data, filename, contentType }),
        post: (url: string, body: Posted['body'], params: Posted['params']) => {
          state.posted.push({ url, body, params });
          return { ...state.respond };
        },
      },
    },
    'k6/metrics': {
      Trend: class {
        constructor(readonly name: string, readonly isTime?: boolean) {}
        add(value: number, tags?: Record<string, string>) {
          state.trend.push({ value, tags });
        }
      },
    },
  };
  const module = { exports: state.exports };
  const context = vm.createContext({
    module,
    exports: state.exports,
    require: (name: string) => {
      if (!(name in modules)) throw new Error(`the script requires '${name}', which k6 does not have`);
      return modules[name];
    },
    __ENV: { ...env },
    open: (path: string, mode?: string) => {
      state.opened.push({ path, mode });
      const bytes = readFileSync(resolve(HERE, path));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    },
  });
  vm.runInContext(js, context, { filename: 'caption.cjs' });
  state.exports = module.exports;
  state.options = JSON.parse(JSON.stringify(module.exports['options'])) as Loaded['options'];
  return state;
}

describe('perf/k6/caption.ts', () => {
  it('transpiles to an ES module that parses', () => {
    const js = transpile(ts.ModuleKind.ESNext);
    const dir = mkdtempSync(join(tmpdir(), 'k6-script-'));
    try {
      const file = join(dir, 'caption.mjs');
      writeFileSync(file, js);
      const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(js, /^export default function/m);
    assert.match(js, /^export const options\b/m);
    assert.match(js, /^export function handleSummary\b/m);
  });

  it('imports only k6 modules', () => {
    const inSource = moduleSpecifiers(source, ts.ScriptKind.TS);
    const inOutput = moduleSpecifiers(transpile(ts.ModuleKind.ESNext), ts.ScriptKind.JS);
    assert.ok(inOutput.length > 0);
    for (const spec of [...inSource, ...inOutput]) assert.match(spec, /^k6(\/[\w-]+)*$/, `import of '${spec}'`);
    // The runtime imports stay after type erasure.
    assert.deepEqual(new Set(inOutput), new Set(['k6', 'k6/execution', 'k6/http', 'k6/metrics']));
  });

  it('exports options with a ramping-arrival-rate and a constant-vus scenario, one after the other', () => {
    const { options } = load();
    const scenarios = Object.values(options.scenarios);
    const ramp = scenarios.find((s) => s['executor'] === 'ramping-arrival-rate');
    const steady = scenarios.find((s) => s['executor'] === 'constant-vus');
    assert.ok(ramp && steady, `executors: ${scenarios.map((s) => s['executor']).join(', ')}`);
    assert.equal(ramp['timeUnit'], '1s');
    assert.equal(typeof ramp['startRate'], 'number');
    assert.ok((ramp['preAllocatedVUs'] as number) > 0 && (ramp['maxVUs'] as number) >= (ramp['preAllocatedVUs'] as number));
    const stages = ramp['stages'] as Array<{ target: number; duration: string }>;
    assert.ok(stages.length > 0);
    for (const s of stages) {
      assert.equal(typeof s.target, 'number');
      assert.match(s.duration, /^(\d+(ms|s|m|h))+$/);
    }
    assert.ok((steady['vus'] as number) > 0);
    assert.match(steady['duration'] as string, /^(\d+(ms|s|m|h))+$/);
    // The closed-model scenario starts after the open one (30s + 30s + 5s of stages, 10s graceful stop).
    assert.equal(steady['startTime'], '75s');
  });

  it('has thresholds on p95 per scenario and endpoint and on http_req_failed', () => {
    const { thresholds, scenarios } = load().options;
    assert.deepEqual(thresholds['http_req_failed'], ['rate<0.01']);
    for (const scenario of Object.keys(scenarios)) {
      for (const endpoint of ['caption', 'classify']) {
        const t = thresholds[`http_req_duration{scenario:${scenario},endpoint:${endpoint}}`];
        assert.ok(t, `no threshold for ${scenario}/${endpoint}`);
        assert.match(t[0]!, /^p\(95\)<\d+$/);
      }
    }
    assert.ok(thresholds['dropped_iterations'], 'open-model runs that drop iterations must fail');
  });

  it('follows the environment: BASE_URL, SCENARIO, thresholds', () => {
    const { thresholds, scenarios } = load({ SCENARIO: 'ramp', RAMP_PEAK_RATE: '3', P95_CAPTION_MS: '1234', MAX_FAILED_RATE: '0.05' }).options;
    assert.deepEqual(Object.keys(scenarios), ['ramp']);
    assert.equal((scenarios['ramp']!['stages'] as Array<{ target: number }>)[0]!.target, 3);
    assert.deepEqual(thresholds['http_req_duration{scenario:ramp,endpoint:caption}'], ['p(95)<1234']);
    assert.deepEqual(thresholds['http_req_failed'], ['rate<0.05']);
    assert.throws(() => load({ SCENARIO: 'soak' }), /SCENARIO/);
    assert.throws(() => load({ RAMP_UP: 'soon' }), /duration/);
  });

  it('opens existing JPEG images, in binary mode, from the init context', () => {
    const { opened } = load();
    assert.ok(opened.length >= 4, `only ${opened.length} images`);
    let total = 0;
    for (const { path, mode } of opened) {
      assert.equal(mode, 'b', path);
      const file = resolve(HERE, path);
      assert.ok(statSync(file).isFile(), `${path} missing; run npm run perf:k6-images`);
      const bytes = readFileSync(file);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], `${path} is not a JPEG`);
      total += bytes.length;
    }
    assert.ok(total < 300 * 1024, `images total ${total} bytes`);
  });

  it('posts multipart images to /caption and /classify and checks status and caption', () => {
    const k = load({ BASE_URL: 'http://gw.test:9000/' });
    const run = k.exports['default'] as () => void;
    k.respond = { status: 200, body: '{"caption":"a bowl of soup","labels":[{"label":"soup"}]}', headers: { 'Server-Timing': 'decode;dur=1.5, encode;dur=20' } };
    for (let i = 0; i < 4; i++) {
      k.execution.scenario.iterationInTest = i;
      run();
    }
    assert.deepEqual(k.posted.map((p) => p.url), ['http://gw.test:9000/classify', 'http://gw.test:9000/caption', 'http://gw.test:9000/classify', 'http://gw.test:9000/caption']);
    for (const p of k.posted) {
      assert.equal(p.body.image!.contentType, 'image/jpeg');
      assert.ok(p.body.image!.data.byteLength > 0);
      assert.match(p.body.image!.filename, /\.jpg$/);
      assert.equal(p.params.tags?.['endpoint'], p.url.endsWith('/caption') ? 'caption' : 'classify');
    }
    assert.notEqual(k.posted[0]!.body.image!.filename, k.posted[2]!.body.image!.filename, 'iterations cycle through the images');
    assert.ok(k.checked.every((c) => Object.values(c.results).every(Boolean)));
    const captionChecks = k.checked.find((c) => c.tags?.['endpoint'] === 'caption')!;
    assert.deepEqual(captionChecks.names, ['caption: status 200', 'caption: non-empty caption']);
    assert.deepEqual(k.trend.slice(0, 2).map((t) => [t.value, t.tags?.['stage']]), [[1.5, 'decode'], [20, 'encode']]);

    // A failed or empty answer fails the checks.
    k.checked.length = 0;
    k.respond = { status: 503, body: '{"caption":"  "}', headers: {} };
    k.execution.scenario.iterationInTest = 1;
    run();
    assert.deepEqual(k.checked[0]!.results, { 'caption: status 200': false, 'caption: non-empty caption': false });
  });

  it('handleSummary writes the JSON to SUMMARY_JSON and text to stdout', () => {
    const data = {
      state: { testRunDurationMs: 75_000 },
      metrics: {
        'http_req_duration{scenario:ramp,endpoint:caption}': { type: 'trend', contains: 'time', values: { count: 10, med: 100, 'p(90)': 150, 'p(95)': 180, 'p(99)': 200, max: 210 }, thresholds: { 'p(95)<2000': { ok: true } } },
        http_req_failed: { type: 'rate', contains: 'default', values: { rate: 0.5 }, thresholds: { 'rate<0.01': { ok: false } } },
        http_reqs: { type: 'counter', contains: 'default', values: { count: 20, rate: 2 } },
      },
    };
    const handle = (env: Record<string, string>) => (load(env).exports['handleSummary'] as (d: unknown) => Record<string, string>)(data);
    const out = handle({});
    assert.deepEqual(Object.keys(out).sort(), ['perf/results/k6-summary.json', 'stdout']);
    assert.deepEqual(JSON.parse(out['perf/results/k6-summary.json']!), data);
    assert.match(out['stdout']!, /ok {3}http_req_duration\{scenario:ramp,endpoint:caption\}: p\(95\)<2000/);
    assert.match(out['stdout']!, /FAIL http_req_failed: rate<0.01/);
    assert.match(out['stdout']!, /180\.0/);
    assert.ok('/tmp/s.json' in handle({ SUMMARY_JSON: '/tmp/s.json' }));
  });

  it('typechecks against @types/k6, and that typecheck catches API misuse', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(TSCONFIG, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) })!;
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.fileNames.map((f) => resolve(f)), [SCRIPT]);
    const diagnostics = (text?: string) => {
      const host = ts.createCompilerHost(parsed.options);
      if (text !== undefined) {
        const original = host.getSourceFile;
        host.getSourceFile = (name, lang, ...rest) => (resolve(name) === SCRIPT ? ts.createSourceFile(name, text, lang) : original.call(host, name, lang, ...rest));
      }
      const program = ts.createProgram(parsed.fileNames, parsed.options, host);
      return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    };
    assert.deepEqual(diagnostics(), []);
    // k6 types are really in use: a wrong executor field and a Node global are errors.
    const broken = source.replace("executor: 'constant-vus',", "executor: 'constant-vus', rate: 5,").replace("const SCENARIO = env('SCENARIO', 'both');", "const SCENARIO = process.env['SCENARIO'] ?? 'both';");
    assert.notEqual(broken, source);
    const errors = diagnostics(broken).join('\n');
    assert.match(errors, /'rate' does not exist/);
    assert.match(errors, /Cannot find name 'process'/);
  });
});
