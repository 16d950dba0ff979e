#!/usr/bin/env node
/**
 * @module cli
 * `modelserver --model-repository DIR [--grpc-port 8001] [--model-config-name NAME]
 *  [--model-control-mode none|explicit] [--load-model NAME]...`, with Triton's flag names.
 * SIGTERM/SIGINT drain in-flight requests, then exit.
 */
import { parseArgs } from 'node:util';
import { startModelServer } from './server.js';

const USAGE =
  'usage: modelserver --model-repository DIR [--grpc-port 8001] [--host 127.0.0.1] ' +
  '[--model-config-name NAME] [--model-control-mode none|explicit] [--load-model NAME]...';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      'model-repository': { type: 'string' },
      'grpc-port': { type: 'string', default: '8001' },
      host: { type: 'string', default: '127.0.0.1' },
      'model-config-name': { type: 'string' },
      'model-control-mode': { type: 'string', default: 'none' },
      'load-model': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (err) {
  fail((err as Error).message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const repository = args['model-repository'] ?? fail('--model-repository is required');
const port = Number(args['grpc-port']);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--grpc-port must be a port number, got '${args['grpc-port']}'`);
const mode = args['model-control-mode'];
if (mode !== 'none' && mode !== 'explicit') fail(`--model-control-mode must be none or explicit, got '${mode}'`);
if (mode === 'none' && args['load-model'].length > 0) fail('--load-model needs --model-control-mode explicit');

const server = await startModelServer({
  modelRepository: repository,
  grpcPort: port,
  host: args.host,
  modelConfigName: args['model-config-name'],
  modelControlMode: mode,
  loadModels: args['load-model'],
});

let signalled = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (signalled) process.exit(1);
    signalled = true;
    process.stderr.write(`${signal}: draining in-flight requests\n`);
    void server.stop().then(() => process.exit(0));
  });
}
