/**
 * @module grpc/service-definitions
 * The services this server implements: inference with the tensor serialisers of
 * proto/tensor-wire.ts (shared with the gateway's client), and grpc.health.v1.
 */
export { InferenceServiceDefinition } from '../../../proto/tensor-wire.js';
export { HealthService as HealthServiceDefinition } from '../../../proto/gen/health.js';
