// Worker entry used only when the server runs from TypeScript sources (tests, tsx-run tools):
// loader hooks registered in the main thread do not reach worker threads on Node 20, and a
// worker's own --import runs too late for its entry module, so this file registers tsx and then
// imports the real worker. Compiled builds start onnx-worker.js directly and never load this.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsEntry);
