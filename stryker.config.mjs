// Mutation testing (npm run test:mutation -- MODULE...): Stryker mutates one module's sources and
// runs the tests that cover it, once per mutant, with Node's test runner (TAP) through tsx.
// scripts/mutation-modules.mjs names each module's sources and the test files that judge them;
// MUTATION_MODULE picks one (scripts/mutation.sh sets it). A module below its break threshold fails the run.
import { MUTATION_MODULES as MODULES } from './scripts/mutation-modules.mjs';

const name = process.env.MUTATION_MODULE;
const module = MODULES[name];
if (!module) throw new Error(`MUTATION_MODULE must be one of ${Object.keys(MODULES).join(', ')}; got ${name}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  tap: {
    testFiles: module.testFiles,
    // tsx runs the mutated TypeScript as the tests run the sources; Stryker's hook records which
    // test file covers which mutant, so each mutant runs only the files that reach it.
    nodeArgs: ['--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}'],
  },
  mutate: module.mutate,
  coverageAnalysis: 'perTest',
  // One mutant at a time: the machine has two cores and the tests start servers of their own.
  concurrency: 1,
  // Added to 1.5x the test files' own time: a mutant that makes a test wait forever counts as
  // killed (timeout) after that, not after a minute.
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `.cache/mutation/${name}.json` },
  thresholds: { high: 90, low: 80, break: 75 },
  // One folder per module, so that modules may run side by side (each run deletes its own).
  tempDirName: `.cache/stryker/${name}`,
  // The sandbox is a copy of the tree: leave out the Python environment and caches.
  ignorePatterns: ['.venv', '.cache', 'dist', '.scratch', 'perf/results', 'perf/perf-analyzer/data'],
  cleanTempDir: 'always',
};
