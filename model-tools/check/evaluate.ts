/**
 * @module model-tools/check/evaluate
 * Measures the committed demo models on held-out generated scenes (seeds from 2,000,000, which
 * training never sees), through the same path the gateway takes: full-size render, sharp
 * resize, normalisation from config.pbtxt, ONNX Runtime for Node, greedy decoding, tokenizer.json.
 * Prints the figures the model cards quote and writes them as JSON.
 * Usage: tsx model-tools/check/evaluate.ts [--count 1000] [--repo model_repository] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { greedyDecode, type GenerationConfig } from '../../gateway/src/generation/index.js';
import { generateScene, renderScene, resizeForModel, type Scene } from '../scenes/index.js';
import { OnnxCaptioner } from './onnx-captioner.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    repo: { type: 'string', default: 'model_repository' },
    out: { type: 'string' },
    'seed-offset': { type: 'string', default: '2000000' },
  },
});

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  const model = await OnnxCaptioner.load(args.repo!);
  const count = Number(args.count);
  const offset = Number(args['seed-offset']);
  const config: GenerationConfig = {
    bosTokenId: model.decoder.bosTokenId,
    eosTokenId: model.decoder.eosTokenId,
    maxLength: model.decoder.maxLength,
    maxNewTokens: model.decoder.maxNewTokens,
    minNewTokens: 0,
    numBeams: 1,
    repetitionPenalty: 1,
  };
  let exact = 0;
  let allNamed = 0;
  let prompted = 0;
  let top1 = 0;
  const misses: string[] = [];
  for (let start = 0; start < count; start += 32) {
    const scenes: Scene[] = [];
    for (let i = start; i < Math.min(count, start + 32); i++) scenes.push(generateScene(offset + i));
    const rgb = await Promise.all(scenes.map(async (s) => resizeForModel(await renderScene(s, 'png'), model.image.size)));
    const pixels = model.pixelValues(rgb);
    const [embeds, probs] = await Promise.all([model.encode(pixels), model.classify(pixels)]);
    for (const [i, scene] of scenes.entries()) {
      const step = model.decodeStepFor(embeds, i);
      const out = await greedyDecode(step, model.tokenizer.prefix(''), config);
      const caption = model.tokenizer.decode(out.tokens);
      if (caption === scene.caption) exact++;
      else if (misses.length < 10) misses.push(`  seed ${scene.seed}: got "${caption}"\n${' '.repeat(13 + String(scene.seed).length)}want "${scene.caption}"`);
      if (scene.items.every((item) => caption.includes(item.phrase))) allNamed++;
      const prompt = model.decoder.promptTemplate.replace('{label}', scene.label);
      const conditioned = await greedyDecode(step, model.tokenizer.prefix(prompt), config);
      if (model.tokenizer.decode(conditioned.tokens) === scene.caption) prompted++;
      const p = probs[i]!;
      if (p.indexOf(Math.max(...p)) === scene.labelIndex) top1++;
    }
  }

  // Latency at batch 1: encoder plus exactly 20 decoder steps (eos ignored), the measure.
  const latencies: number[] = [];
  for (let i = 0; i < 60; i++) {
    const scene = generateScene(offset + count + i);
    const pixels = model.pixelValues([await resizeForModel(await renderScene(scene, 'png'), model.image.size)]);
    const t0 = performance.now();
    const embeds = await model.encode(pixels);
    const step = model.stepFor(embeds, 0);
    const seq = model.tokenizer.prefix('');
    for (let s = 0; s < 20; s++) {
      const [logits] = await step([seq]);
      seq.push(logits!.indexOf(Math.max(...logits!)));
      if (seq.length >= model.decoder.maxLength) seq.splice(1);
    }
    if (i >= 10) latencies.push(performance.now() - t0);
  }

  const metrics = {
    heldOutScenes: count,
    seedOffset: offset,
    exactCaptionMatch: exact / count,
    everyItemNamed: allNamed / count,
    promptedExactMatch: prompted / count,
    classifierTop1: top1 / count,
    encoderPlus20StepsP50Ms: percentile(latencies, 50),
    encoderPlus20StepsP90Ms: percentile(latencies, 90),
  };
  console.log(`held-out scenes (seeds ${offset}..${offset + count - 1}): ${count}`);
  console.log(`caption exact match            ${(100 * metrics.exactCaptionMatch).toFixed(1)} %   (target >= 90 %)`);
  console.log(`every item named               ${(100 * metrics.everyItemNamed).toFixed(1)} %   (target >= 97 %)`);
  console.log(`prompted "a photo of {label},"  ${(100 * metrics.promptedExactMatch).toFixed(1)} %   (continuation equals the caption)`);
  console.log(`classifier top-1               ${(100 * metrics.classifierTop1).toFixed(1)} %   (target >= 95 %)`);
  console.log(`encoder + 20 greedy steps, batch 1: p50 ${metrics.encoderPlus20StepsP50Ms.toFixed(1)} ms, p90 ${metrics.encoderPlus20StepsP90Ms.toFixed(1)} ms   (target < 60 ms)`);
  if (misses.length) console.log(`first misses:\n${misses.join('\n')}`);
  if (args.out) writeFileSync(args.out, JSON.stringify(metrics, null, 2) + '\n');
}

await main();
