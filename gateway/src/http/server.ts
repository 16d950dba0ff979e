/**
 * @module http/server
 * The gateway's HTTP server: Node's server around the Express app with every timeout and the
 * connection cap set (idle keep-alive connections closed near it), uploads guarded (upload.ts),
 * and a bounded drain. Draining refuses new
 * connections, closes idle keep-alive ones, tells every answer still to come to close its
 * connection (Node 20 keeps them open otherwise), waits `drainMs` at most, then closes what is
 * left (stalled uploads, requests slower than the drain), so the process exits in time.
 */
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { guardUploadTimes } from './upload.js';

export interface HttpServerOptions {
  readonly port: number;
  readonly host: string;
  /** A request's headers must arrive within this, ms. */
  readonly headersTimeoutMs: number;
  /** A request's body must arrive within this of its headers, ms. */
  readonly uploadTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/** Pending connections the kernel holds for accept(). */
const LISTEN_BACKLOG = 4096;

/** The share of the connection cap at which idle keep-alive connections are closed. */
const IDLE_EVICTION_AT = 0.9;

export interface HttpServer {
  readonly port: number;
  /**
   * Stops accepting and waits for in-flight requests, `drainMs` at most, then closes what is
   * left; resolves with how many were cut.
   */
  drain(drainMs: number): Promise<number>;
}

/** Serves `app` as `options` say; resolves once listening. */
export async function serveHttp(app: RequestListener, options: HttpServerOptions): Promise<HttpServer> {
  const server: Server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      // Node's bound on receiving a whole request: a backstop only. readUpload's body timer
      // (the upload timeout from the headers) answers first, through the error middleware.
      requestTimeout: options.headersTimeoutMs + options.uploadTimeoutMs + 1000,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above; its default, 30 s, would let a stalled
      // request outlive them by up to that much.
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs),
    },
    app,
  );
  server.maxConnections = options.maxConnections;
  // Idle keep-alive connections count against the cap: clients that come back now and then (or
  // a pool of thousands of load-test VUs) would hold it and every new client's connection would
  // be reset. Near the cap the idle ones are closed (their clients reconnect when they need to).
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
    if (open >= Math.ceil(options.maxConnections * IDLE_EVICTION_AT)) server.closeIdleConnections();
  });
  // At the cap Node drops a new connection without a 'connection' event: make room for the next.
  server.on('drop', () => server.closeIdleConnections());
  guardUploadTimes(server, { bodyTimeoutMs: options.uploadTimeoutMs });
  // Responses not yet finished, so that a drain can tell each to close its connection.
  const responses = new Set<ServerResponse>();
  let draining = false;
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      // An answer whose headers had gone before the drain began cannot say Connection: close;
      // its connection is closed as soon as it is idle.
      if (draining) server.closeIdleConnections();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node's default backlog (511) overflows in a burst of new connections while the event loop
    // is busy: the kernel drops the SYNs and clients retry a second later. The kernel caps it at
    // net.core.somaxconn.
    server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let drained: Promise<number> | undefined;
  return {
    port: (server.address() as { port: number }).port,
    drain(drainMs) {
      drained ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([closed.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), drainMs)))]);
        clearTimeout(timer);
        if (inTime) return 0;
        const cut = responses.size;
        server.closeAllConnections();
        await closed;
        return cut;
      })();
      return drained;
    },
  };
}
