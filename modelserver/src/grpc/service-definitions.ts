/**
 * @module grpc/service-definitions
 * The generated grpc-js service definitions, with the inference RPCs' serializers replaced by
 * ones that wrap the encoded bytes instead of copying them: ts-proto's default
 * `Buffer.from(Uint8Array)` copies every response, tensors included.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  ModelInferRequest,
  ModelInferResponse,
  ModelStreamInferResponse,
} from '../../../proto/gen/grpc_service.js';

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export const InferenceServiceDefinition = {
  ...GRPCInferenceServiceService,
  modelInfer: {
    ...GRPCInferenceServiceService.modelInfer,
    requestSerialize: (v: ModelInferRequest) => asBuffer(ModelInferRequest.encode(v).finish()),
    responseSerialize: (v: ModelInferResponse) => asBuffer(ModelInferResponse.encode(v).finish()),
  },
  modelStreamInfer: {
    ...GRPCInferenceServiceService.modelStreamInfer,
    requestSerialize: (v: ModelInferRequest) => asBuffer(ModelInferRequest.encode(v).finish()),
    responseSerialize: (v: ModelStreamInferResponse) => asBuffer(ModelStreamInferResponse.encode(v).finish()),
  },
} satisfies ServiceDefinition;

export { HealthService as HealthServiceDefinition } from '../../../proto/gen/health.js';
