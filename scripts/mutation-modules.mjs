// The modules mutation testing covers: for each, the sources Stryker mutates and the test files
// that must kill the mutants (stryker.config.mjs reads this; so does scripts/mutation.sh).
export const MUTATION_MODULES = {
  generation: {
    mutate: ['gateway/src/generation/{greedy-decode,beam-search,logits-processors,generate}.ts'],
    testFiles: ['gateway/src/generation/*.test.ts'],
  },
  preprocess: {
    mutate: ['gateway/src/preprocess/*.ts', '!gateway/src/preprocess/*.test.ts'],
    testFiles: ['gateway/src/preprocess/*.test.ts'],
  },
};
