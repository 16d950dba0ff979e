// Temporary: gateway CPU per caption by thread, under closed-loop load; optional --cpu-prof.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { generateScene, renderScene } from '../model-tools/scenes/index.js';
import { closedLoop, summariseLoad } from './lib/measure.js';
import { httpPoster } from './lib/http-post.js';
const conc = Number(process.argv[2] ?? 16), N = Number(process.argv[3] ?? 256), prof = process.argv[4] === 'prof';
const jpegs = await Promise.all(Array.from({ length: 32 }, (_, i) => renderScene(generateScene(5_000_000 + i), 'jpeg')));
const child = spawn(process.execPath, [...(prof ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), ...(process.env.NODE_FLAGS ? process.env.NODE_FLAGS.split(' ') : []), '--import', 'tsx', 'gateway/src/main.ts'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((res) => { let log = ''; const on = async (c: Buffer) => { log += c; const m = /gateway listening on (http:\/\/[\d.:]+)/.exec(log); if (m) { child.stdout!.off('data', on); if (process.env.GCLOG) child.stdout!.pipe((await import('node:fs')).createWriteStream(process.env.GCLOG)); else child.stdout!.resume(); res(m[1]!); } }; child.stdout!.on('data', on); });
const http = httpPoster(16);
let k = 0; const stages: Record<string, number[]> = {};
const send = async () => { const r = await http.post(`${url}/caption`, jpegs[k++ % 32]!, 'image/jpeg'); if (r.status !== 200) throw new Error(String(r.status)); for (const m of String(r.headers['server-timing'] ?? '').matchAll(/(\w+);dur=([\d.]+)/g)) (stages[m[1]!] ??= []).push(Number(m[2])); };
const threads = () => { const out: Record<string, number> = {}; for (const t of readdirSync(`/proc/${child.pid}/task`)) { try { const st = readFileSync(`/proc/${child.pid}/task/${t}/stat`, 'utf8'); const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); const name = t === String(child.pid) ? 'main' : `${comm}#${t}`; out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) * 10; out[name + ':sys'] = (out[name + ':sys'] ?? 0) + Number(f[12]) * 10; } catch {} } return out; };
await closedLoop(conc, 0, send, Number(process.env.WARM ?? 64));
for (let win = 0; win < Number(process.env.WINDOWS ?? 1); win++) {
for (const key of Object.keys(stages)) delete stages[key];
const a = threads(); const c0 = process.cpuUsage();
const r = summariseLoad(await closedLoop(conc, 0, send, N));
const b = threads(); const c1 = process.cpuUsage(c0);
const per = (x: number) => (x / r.requests).toFixed(2);
console.log(`c${conc}: ${r.rps.toFixed(1)} caps/s p50 ${r.p50.toFixed(1)} ms; stages ${Object.entries(stages).map(([n, xs]) => `${n} ${(xs.reduce((p, q) => p + q, 0) / xs.length).toFixed(1)}`).join(', ')}`);
const total = Object.keys(b).filter((n) => !n.endsWith(':sys')).reduce((s, n) => s + b[n]! - (a[n] ?? 0), 0);
console.log(`gateway CPU ms/caption: total ${per(total)} | ${Object.keys(b).filter((n) => b[n]! - (a[n] ?? 0) > 0.02 * r.requests).map((n) => `${n} ${per(b[n]! - (a[n] ?? 0))}`).join(' | ')} | loadgen ${per((c1.user + c1.system) / 1000)}`);
}
http.close(); child.kill('SIGTERM'); await new Promise((r) => child.on('exit', r));
