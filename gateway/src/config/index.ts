/**
 * @module config
 * Configuration from the environment; imports nothing from the project.
 */
export { ConfigSchema, loadConfig } from './schema.js';
export type { GatewayConfig } from './schema.js';
