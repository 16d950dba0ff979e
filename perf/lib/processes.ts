/**
 * @module perf/lib/processes
 * The gateway and the embedded model server as child processes, as they run in production, so a
 * benchmark's load generator never shares their event loop.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { TritonClient } from '../../gateway/src/triton/client.js';

export interface Child {
  readonly url: string;
  stop(): Promise<void>;
}

/** `npm start` on a free port, with `env` added; resolves once it listens. */
export async function startGatewayProcess(env: Record<string, string> = {}): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let log = '';
    const onData = (c: Buffer) => {
      log += c.toString();
      const m = /gateway listening on (http:\/\/[\d.:]+)/.exec(log);
      if (!m) return;
      // From here on the access log is drained, not kept: the load generator shares the CPU.
      child.stdout.off('data', onData).resume();
      resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}: ${log}`)));
  });
  return { url, stop: () => stopChild(child) };
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

function stopChild(child: ReturnType<typeof spawn>): Promise<void> {
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
