/**
 * @module perf/lib/processes
 * The gateway and the embedded model server as child processes, as they run in production, so a
 * benchmark's load generator never shares their event loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { TritonClient } from '../../gateway/src/triton/client.js';

export interface Child {
  readonly url: string;
  stop(): Promise<void>;
}

/** How a child process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface GatewayChild extends Child {
  /** The process itself, for signals. */
  readonly process: ChildProcess;
  /** Settles when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Its stdout so far (the JSON log lines), when started with `keepLog`; empty otherwise. */
  log(): string;
}

/** `npm start`'s process from the sources (node with tsx's loader on gateway/src/main.ts). */
function spawnGateway(env: Record<string, string>, stderr: 'inherit' | 'pipe'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', stderr],
  });
}

const exitOf = (child: ChildProcess) => new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/**
 * `npm start` on a free port, with `env` added; resolves once it listens. With `keepLog` its log
 * is kept for `log()` (a test reads it); otherwise it is drained, since a benchmark's load
 * generator shares the CPU.
 */
export async function startGatewayProcess(env: Record<string, string> = {}, options: { keepLog?: boolean } = {}): Promise<GatewayChild> {
  const child = spawnGateway(env, 'inherit');
  const exited = exitOf(child);
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      log += c.toString();
      const m = /gateway listening on (http:\/\/[\d.:]+)/.exec(log);
      if (!m) return;
      if (!options.keepLog) child.stdout!.off('data', onData).resume();
      resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`gateway exited with ${code ?? signal}: ${log}`)));
  });
  return { url, process: child, exited, log: () => log, stop: () => stopChild(child) };
}

/**
 * The gateway with `env` until it exits by itself (a start-up that fails), killed after
 * `timeoutMs`: how it exited and what it wrote.
 */
export async function runGatewayUntilExit(env: Record<string, string>, timeoutMs = 60_000): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawnGateway(env, 'pipe');
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await exitOf(child);
  clearTimeout(timer);
  // 'exit' can come before the last output: wait until both pipes are closed.
  await new Promise<void>((resolve) => (child.stdout!.closed && child.stderr!.closed ? resolve() : child.once('close', () => resolve())));
  return { ...exit, stdout, stderr };
}

/** The model server CLI on a free port over `repository`; resolves once ServerReady says so. */
export async function startModelServerProcess(repository: string, extraArgs: string[] = []): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'modelserver/src/cli.ts', '--model-repository', repository, '--grpc-port', String(port), ...extraArgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `127.0.0.1:${port}`;
  const client = new TritonClient(url);
  try {
    for (const until = Date.now() + 120_000; !(await client.serverReady(Date.now() + 1000)); ) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`model server on ${url} did not become ready`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.close();
  }
  return { url, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
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
