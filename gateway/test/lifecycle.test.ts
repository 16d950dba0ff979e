/**
 * The gateway as a process, started as `npm start` starts it (perf/lib/processes.ts): SIGTERM with
 * captions in flight drains them (each answers 200, new connections are refused, exit 0), and a
 * start-up on caption models whose configs cannot work together exits 2 with one line saying why.
 * The models are copies of the committed ones in a temporary repository, their config.pbtxt
 * edited; the embedded model server serves them.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { type Exit, runGatewayUntilExit, startGatewayProcess } from '../../perf/lib/processes.js';
import { form, REPOSITORY } from './helpers.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** The caption encoder and decoder copied into a temporary repository, each config.pbtxt passed through `edit`. */
async function repositoryWith(edit: { encoder?: (config: string) => string; decoder?: (config: string) => string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-lifecycle-'));
  dirs.push(dir);
  for (const [model, change] of [['caption_encoder', edit.encoder], ['caption_decoder', edit.decoder]] as const) {
    await cp(join(REPOSITORY, model), join(dir, model), { recursive: true });
    const file = join(dir, model, 'config.pbtxt');
    const text = await readFile(file, 'utf8');
    const changed = change ? change(text) : text;
    assert.ok(!change || changed !== text, `the edit of ${model}/config.pbtxt changed nothing`);
    await writeFile(file, changed);
  }
  return dir;
}

/** Resolves when a TCP connection to `port` is refused; rejects if one is accepted. */
function connectionRefused(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error(`port ${port} still accepts connections`));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve() : reject(err)));
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 25))) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
  }
}

describe('SIGTERM', () => {
  it('lets every caption in flight answer 200, refuses new connections, and exits 0', { timeout: 120_000 }, async () => {
    // The encoder's dynamic batcher holds a batch short of max_batch_size (16) for its queue
    // delay: 4 s during which the 4 captions are in flight for certain, however busy the machine.
    const repo = await repositoryWith({ encoder: (c) => c.replace('max_queue_delay_microseconds: 0', 'max_queue_delay_microseconds: 4000000') });
    const gw = await startGatewayProcess({ MODEL_REPOSITORY: repo }, { keepLog: true });
    try {
      const images = await Promise.all([4_600_001, 4_600_002, 4_600_003, 4_600_004].map((seed) => renderScene(generateScene(seed), 'png')));
      const answered = images.map(() => false);
      const answers = images.map((image, i) =>
        fetch(`${gw.url}/caption`, { method: 'POST', body: form(image), headers: { 'x-request-id': `drain-${i}` } }).then(
          async (res) => {
            answered[i] = true;
            return { status: res.status, body: await res.text() };
          },
          (err: Error) => {
            answered[i] = true;
            return { status: 0, body: `${err.message}: ${String(err.cause)}` };
          },
        ),
      );
      // The gauge (which leaves the scrape itself out) shows all four accepted before the signal.
      await until('4 requests in flight', async () => /^http_requests_in_flight 4$/m.test(await (await fetch(`${gw.url}/metrics`)).text()));
      gw.process.kill('SIGTERM');
      await until('the shutdown log line', () => gw.log().includes('SIGTERM: finishing in-flight requests'));
      // server.close() ran in the same tick as that line: the listener is gone, the captions not done.
      await connectionRefused(Number(new URL(gw.url).port));
      assert.deepEqual(answered, [false, false, false, false], 'the signal landed after a caption had answered');

      for (const { status, body } of await Promise.all(answers)) {
        assert.equal(status, 200, body);
        assert.ok((JSON.parse(body) as { caption: string }).caption.length > 0, body);
      }
      assert.deepEqual(await gw.exited, { code: 0, signal: null } satisfies Exit);
      // The log's order: the signal first, then each caption's access line.
      const lines = gw.log().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const signalAt = lines.findIndex((l) => l['msg'] === 'SIGTERM: finishing in-flight requests');
      for (let i = 0; i < images.length; i++) {
        const at = lines.findIndex((l) => l['requestId'] === `drain-${i}` && l['msg'] === 'request completed');
        assert.ok(at > signalAt, `drain-${i} completed at line ${at}, the signal is line ${signalAt}`);
        assert.equal(lines[at]!['status'], 200);
      }
    } finally {
      await gw.stop();
    }
  });
});

describe('start-up on caption model configs that cannot work', () => {
  const drop = (key: string) => (c: string) => c.replace(new RegExp(`\\s*\\{ key: "${key}" value: \\{ string_value: "[^"]*" \\} \\},?`), '');
  const set = (key: string, value: string) => (c: string) => c.replace(new RegExp(`(key: "${key}" value: \\{ string_value: )"[^"]*"`), `$1"${value}"`);
  const cases: Record<string, { edit: Parameters<typeof repositoryWith>[0]; tokenizer?: string; message: RegExp }> = {
    'the decoder has no bos_token_id': { edit: { decoder: drop('bos_token_id') }, message: /model 'caption_decoder' has unusable parameters: bos_token_id: / },
    "the decoder's bos_token_id is outside its vocabulary": {
      edit: { decoder: set('bos_token_id', '177') },
      message: /model 'caption_decoder': bos_token_id 177 is outside its logits' vocabulary of 177$/,
    },
    "the decoder's tokenizer file is missing": {
      edit: { decoder: set('tokenizer', 'no-such-tokenizer.json') },
      message: /model 'caption_decoder': tokenizer \S+\/caption_decoder\/no-such-tokenizer\.json cannot be read \(ENOENT\)$/,
    },
    "the decoder's tokenizer.json is not a tokenizer": { edit: {}, tokenizer: '{"model": ', message: /caption_decoder\/tokenizer\.json is not a tokenizer\.json \(/ },
    "the encoder's image_size disagrees with its input": {
      edit: { encoder: set('image_size', '48') },
      message: /model 'caption_encoder': image_size 48 disagrees with input dims \[3,64,64\]$/,
    },
    // The encoder's ONNX output has a free dimension, so both servers load [66, 64]; the decoder
    // would refuse every request at run time.
    "the encoder's embeddings do not fit the decoder's image_embeds": {
      edit: { encoder: (c) => c.replace('name: "image_embeds" data_type: TYPE_FP32 dims: [ 65, 64 ]', 'name: "image_embeds" data_type: TYPE_FP32 dims: [ 66, 64 ]') },
      message: /model 'caption_encoder' output 'image_embeds' \[66,64\] does not fit 'caption_decoder' input 'image_embeds' \[65,64\]$/,
    },
  };
  const exits = new Map<string, Promise<Exit & { stderr: string }>>();

  before(async () => {
    // All at once: each waits on its own model loads.
    for (const [name, c] of Object.entries(cases)) {
      const repo = await repositoryWith(c.edit);
      if (c.tokenizer !== undefined) await writeFile(join(repo, 'caption_decoder', 'tokenizer.json'), c.tokenizer);
      exits.set(name, runGatewayUntilExit({ MODEL_REPOSITORY: repo }));
    }
  });

  for (const [name, { message }] of Object.entries(cases)) {
    it(`${name}: exit 2, one line on stderr naming it`, async () => {
      const { code, signal, stderr } = await exits.get(name)!;
      assert.deepEqual({ code, signal }, { code: 2, signal: null }, stderr);
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^gateway did not start: /);
      assert.match(lines[0]!, message);
    });
  }

  it('the unchanged copy starts (the edits above are what fails), and SIGTERM right after "listening" exits 0', { timeout: 120_000 }, async () => {
    const gw = await startGatewayProcess({ MODEL_REPOSITORY: await repositoryWith() });
    await gw.stop();
    assert.deepEqual(await gw.exited, { code: 0, signal: null });
  });

  it('a bad environment variable: exit 2, before any model is read', async () => {
    const { code, stderr } = await runGatewayUntilExit({ MAX_BEAMS: 'many' });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^invalid configuration:\n {2}MAX_BEAMS: .*\(got "many"\)\n$/);
  });

  it('a model server that never becomes ready: exit 1 (a retry may succeed), one line', async () => {
    const { code, stderr } = await runGatewayUntilExit({ TRITON_URL: '127.0.0.1:9', TRITON_READY_TIMEOUT_MS: '1500' });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^gateway did not start: model server at 127\.0\.0\.1:9 not ready with caption_encoder, caption_decoder after 1500 ms\n$/);
  });
});
