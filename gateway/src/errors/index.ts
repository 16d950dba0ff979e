/**
 * @module errors
 * The gateway's error catalogue and error type; imports nothing from the project.
 */
export { ERROR_CATALOGUE } from './catalogue.js';
export type { ErrorCode, ErrorDefinition } from './catalogue.js';
export { GatewayError } from './gateway-error.js';
export { abortReason } from './abort-reason.js';
