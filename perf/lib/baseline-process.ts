/**
 * @module perf/lib/baseline-process
 * The baseline captioning service (perf/baseline/: FastAPI + PIL + tritonclient, the service a
 * Triton user would write instead of the gateway) as a child process, for its test and the
 * benchmarks: `startBaseline` launches perf/baseline/serve.sh on a free port and resolves once
 * GET /healthz answers; `stop()` ends it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface BaselineChild {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** uvicorn itself (serve.sh execs it), for CPU figures and signals. */
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface BaselineOptions {
  /** host:port of the model server's gRPC endpoint. */
  readonly tritonUrl: string;
  /** Environment added to the service's: MODEL_REPOSITORY, CAPTION_ENCODER_MODEL, CAPTION_DECODER_MODEL. */
  readonly env?: Record<string, string>;
  /** How long start-up may take (reading the configs and the tokenizer): default 60 s. */
  readonly timeoutMs?: number;
}

/** Starts the baseline; rejects with its stderr when it exits or does not answer /healthz in time. */
export async function startBaseline(options: BaselineOptions): Promise<BaselineChild> {
  const port = await freePort();
  const child = spawn('bash', ['perf/baseline/serve.sh', String(port), options.tritonUrl], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child);
  try {
    await waitForHealth(url, child, options.timeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw new Error(`the baseline (perf/baseline/serve.sh) did not start: ${(err as Error).message}\n${stderr}`);
  }
  return { url, process: child, stop };
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  for (const until = Date.now() + timeoutMs; ; ) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited with ${child.exitCode ?? child.signalCode}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`no answer from ${url}/healthz within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    // uvicorn drains its connections on SIGTERM; one left stuck must not hang the caller.
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
