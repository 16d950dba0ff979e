// The modules mutation testing covers: for each, the sources Stryker mutates and the test files
// that must kill the mutants (stryker.config.mjs reads this; so does scripts/mutation.sh).
export const MUTATION_MODULES = {
  generation: {
    // types.ts and index.ts hold no code; caption-tokenizer.ts is a thin wrapper of HF's tokenizer,
    // judged by the end-to-end caption tests.
    mutate: ['gateway/src/generation/{greedy-decode,beam-search,logits-processors,generate}.ts'],
    // Not hf-parity.test.ts: it starts torch (10 s a run); beam-search.test.ts compares with its
    // recording of transformers' answers instead.
    testFiles: [
      'gateway/src/generation/beam-search.test.ts',
      'gateway/src/generation/generate.test.ts',
      'gateway/src/generation/logits-processors.test.ts',
    ],
  },
  preprocess: {
    // index.ts only re-exports.
    mutate: ['gateway/src/preprocess/{decode-image,pixel-values,zoom-crop}.ts'],
    testFiles: ['gateway/src/preprocess/*.test.ts'],
  },
  batcher: {
    // types.ts holds no code. The unit tests drive the schedulers directly, on real ONNX Runtime
    // instances, with requests sent in one synchronous pass (so arrival order is exact);
    // test/batching.test.ts checks the same over gRPC but takes 15 s a run.
    mutate: ['modelserver/src/scheduler/*.ts', '!modelserver/src/scheduler/*.test.ts', '!modelserver/src/scheduler/types.ts'],
    testFiles: ['modelserver/src/scheduler/*.test.ts'],
  },
  'request-parsing': {
    mutate: ['modelserver/src/inference/*.ts', '!modelserver/src/inference/*.test.ts'],
    // Unit tests of the pure functions, on configs parsed as the server parses them, and every
    // refused request over gRPC with Triton's exact message (test/request-errors.test.ts, 1.5 s).
    testFiles: ['modelserver/src/inference/*.test.ts', 'modelserver/test/request-errors.test.ts'],
  },
  services: {
    mutate: ['gateway/src/captioning/caption-service.ts', 'gateway/src/classification/classify-service.ts'],
    // The services over the embedded server, each option against a reference built from the
    // lower parts, deadlines against slowed copies of the models.
    testFiles: ['gateway/src/captioning/caption-service.test.ts', 'gateway/src/classification/classify-service.test.ts'],
  },
  'triton-client': {
    // The gRPC client, its status mapping, streams, per-call deadlines, the decoder step batcher
    // and classification parsing. model-spec.ts (config readers) and the one-line builders are
    // judged by the spec and end-to-end tests.
    mutate: ['gateway/src/triton/{client,status-map,infer-stream,deadlines,decode-step,classification}.ts'],
    // Real servers over gRPC; not reconnect.test.ts (it restarts a model server: 30 s a run).
    testFiles: [
      'gateway/src/triton/pure-helpers.test.ts',
      'gateway/src/triton/infer-stream.test.ts',
      'gateway/src/triton/client.test.ts',
      'gateway/test/infer-stream.test.ts',
      'gateway/test/model-errors.test.ts',
      'gateway/test/decode-step.test.ts',
      'gateway/test/deadlines.test.ts',
      'gateway/src/classification/classify-service.test.ts',
    ],
  },
};
