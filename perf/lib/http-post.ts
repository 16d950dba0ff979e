/**
 * @module perf/lib/http-post
 * The benchmarks' HTTP client: POSTs a body over keep-alive connections with node:http and reads
 * the answer whole. The load generator shares the machine with the gateway it measures, so it
 * should cost as little as ab or wrk would. At concurrency 16 on the 2-core VM, undici's fetch took
 * 2.2–2.8 ms of CPU per caption request (a tenth of the gateway's own CPU per caption); this
 * client takes 0.9–1.0 ms.
 */
import { Agent, request } from 'node:http';

export interface PostAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A client holding at most `connections` keep-alive sockets (one per concurrent request). */
export function httpPoster(connections: number): { post(url: string, body: Buffer, contentType: string): Promise<PostAnswer>; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const post = (url: string, body: Buffer, contentType: string) =>
    new Promise<PostAnswer>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}
