/**
 * @module triton-harness/start-triton
 * Starts the real tritonserver (triton-harness/serve.sh) on free loopback ports for tests and
 * benchmarks, and resolves once Triton says it is ready. It fails, never skips, when Triton cannot
 * start: the error carries the end of Triton's log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface TritonOptions {
  /** Repository to serve (default model_repository); rewritten for the python backend. */
  readonly modelRepository?: string;
  /** More tritonserver flags, e.g. `--model-config-name=cpu` or `--model-control-mode=explicit`. */
  readonly args?: readonly string[];
  /** How long to wait for readiness (default 120 s). */
  readonly readyTimeoutMs?: number;
  /** Wait for the server to be live only, not ready (a repository expected to fail a load). */
  readonly liveOnly?: boolean;
}

export interface RunningTriton {
  /** host:port of the gRPC endpoint. */
  readonly address: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Everything Triton has printed so far. */
  log(): string;
  /** SIGTERM, then waits for the process to exit (Triton drains for at most 5 s). */
  stop(): Promise<void>;
}

const SERVE = fileURLToPath(new URL('./serve.sh', import.meta.url));

export async function startTriton(options: TritonOptions = {}): Promise<RunningTriton> {
  const [grpcPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const env = { ...process.env, ...(options.modelRepository ? { MODEL_REPOSITORY: options.modelRepository } : {}) };
  const args = [SERVE, `--grpc-port=${grpcPort}`, `--http-port=${httpPort}`, `--metrics-port=${metricsPort}`, ...(options.args ?? [])];
  // Its own process group, so stop() reaches tritonserver and its python stubs whatever happens to serve.sh.
  const child = spawn('bash', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const running: RunningTriton = {
    address: `127.0.0.1:${grpcPort}`,
    grpcPort,
    httpPort,
    log: () => log,
    stop: () => stopGroup(child),
  };
  const path = options.liveOnly ? '/v2/health/live' : '/v2/health/ready';
  const until = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tritonserver exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log.slice(-4000)}`);
    }
    if ((await httpStatus(`http://127.0.0.1:${httpPort}${path}`)) === 200) return running;
    if (Date.now() > until) {
      await running.stop();
      throw new Error(`tritonserver not ready on ${running.address} after ${options.readyTimeoutMs ?? 120_000} ms:\n${log.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The status of a GET on a connection of its own, closed after the answer: Triton's shutdown
 * waits (up to its exit timeout) for open HTTP connections, such as fetch's keep-alive pool.
 */
function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * SIGTERM to the group, SIGKILL if it is still there after `KILL_AFTER_MS`: Triton 2.51 waits
 * for open ModelStreamInfer streams when it shuts down, past its own --exit-timeout-secs, so a
 * client that keeps its streams open (as the gateway does) would hold it forever.
 */
const KILL_AFTER_MS = 8000;

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // already gone
      }
    };
    const kill = setTimeout(() => signal('SIGKILL'), KILL_AFTER_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    signal('SIGTERM');
  });
}

/** A port that was free a moment ago (Triton cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
