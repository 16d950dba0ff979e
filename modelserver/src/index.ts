/**
 * @module modelserver
 * The embedded KServe v2 gRPC model server's public surface.
 */
export { startModelServer } from './server.js';
export type { ModelServerOptions, RunningModelServer } from './server.js';
