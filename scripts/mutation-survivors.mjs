/**
 * @module scripts/mutation-survivors
 * The mutants a Stryker JSON report (npm run test:mutation writes .cache/mutation/MODULE.json)
 * says no test killed, one line each: file:line, status, mutator, the replacement, the line.
 *   node scripts/mutation-survivors.mjs .cache/mutation/generation.json
 */
import { readFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/mutation-survivors.mjs REPORT.json');
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
let killed = 0;
let total = 0;
for (const [path, { source, mutants }] of Object.entries(report.files)) {
  const lines = source.split('\n');
  for (const m of mutants) {
    if (m.status === 'CompileError' || m.status === 'RuntimeError' || m.status === 'Ignored') continue;
    total++;
    if (m.status === 'Killed' || m.status === 'Timeout') {
      killed++;
      continue;
    }
    const line = lines[m.location.start.line - 1].trim();
    const replacement = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 70);
    console.log(`${path}:${m.location.start.line} ${m.status} ${m.mutatorName}: ${replacement} | ${line.slice(0, 110)}`);
  }
}
console.log(`score ${((100 * killed) / total).toFixed(2)} % (${killed} of ${total} killed or timed out)`);
