/**
 * @module scripts/coverage-table
 * Line and branch coverage per folder, from the raw V8 coverage Node wrote while the tests ran
 * (NODE_V8_COVERAGE=DIR: every test process, the gateways and model servers they spawn, and the
 * ONNX worker threads). c8 maps it back to the TypeScript sources through the source maps tsx
 * hands Node; files no test loads count as 0 %.
 *   node scripts/coverage-table.mjs DIR           one row per folder, then the lowest three
 *   node scripts/coverage-table.mjs DIR FOLDER    one row per file of FOLDER (to see why it is low)
 */
import { relative } from 'node:path';
import { Report } from 'c8';

const [dir, folder] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node scripts/coverage-table.mjs NODE_V8_COVERAGE_DIR [FOLDER]');
  process.exit(2);
}

const report = new Report({
  tempDirectory: dir,
  all: true,
  src: [process.cwd()],
  include: ['gateway/src/**', 'modelserver/src/**', 'proto/*.ts', 'model-tools/**', 'perf/**', 'triton-harness/**'],
  // Tests, their fixtures and generated protobuf code are not what coverage is about; the k6
  // script runs inside k6 (goja), where V8 sees nothing.
  exclude: ['**/*.test.ts', '**/test/**', '**/fixtures/**', 'perf/k6/**', '**/node_modules/**'],
  extension: ['.ts', '.mjs', '.js'],
  // Read the raw files one at a time: stage 1 leaves hundreds of them.
  mergeAsync: true,
});
const map = await report.getCoverageMapFromAllCoverageFiles();

/** gateway/src/<folder> and modelserver/src/<folder>; elsewhere the top two levels. */
function folderOf(file) {
  const parts = file.split('/').slice(0, -1);
  return parts.slice(0, ['gateway', 'modelserver'].includes(parts[0]) ? 3 : 2).join('/');
}

const rows = new Map();
for (const abs of map.files()) {
  const file = relative(process.cwd(), abs);
  const key = folder === undefined ? folderOf(file) : folderOf(file) === folder ? file : undefined;
  if (key === undefined) continue;
  const s = map.fileCoverageFor(abs).toSummary();
  const row = rows.get(key) ?? { files: 0, lines: [0, 0], branches: [0, 0] };
  row.files += 1;
  row.lines[0] += s.lines.covered;
  row.lines[1] += s.lines.total;
  row.branches[0] += s.branches.covered;
  row.branches[1] += s.branches.total;
  rows.set(key, row);
}

const pct = ([covered, total]) => (total === 0 ? 100 : (100 * covered) / total);
const cell = (pair) => `${pct(pair).toFixed(1).padStart(5)} % ${`${pair[0]}/${pair[1]}`.padStart(11)}`;
const total = { files: 0, lines: [0, 0], branches: [0, 0] };
for (const r of rows.values()) {
  total.files += r.files;
  for (const k of ['lines', 'branches']) for (const i of [0, 1]) total[k][i] += r[k][i];
}
const width = Math.max(10, ...[...rows.keys()].map((k) => k.length));
const line = (name, r) => `${name.padEnd(width)}  ${String(r.files).padStart(5)}  ${cell(r.lines)}  ${cell(r.branches)}`;
console.log(`\ncoverage (c8 over V8, mapped to the TypeScript sources)${folder ? ` of ${folder}` : ''}`);
console.log(`${'folder'.padEnd(width)}  files  ${'lines'.padEnd(21)}  branches`);
for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) console.log(line(name, r));
console.log(line('all', total));
if (folder === undefined) {
  const lowest = [...rows].sort(([, a], [, b]) => pct(a.lines) - pct(b.lines)).slice(0, 3);
  console.log(`lowest (lines): ${lowest.map(([n, r]) => `${n} ${pct(r.lines).toFixed(1)} %`).join(', ')}; per file: node scripts/coverage-table.mjs ${dir} FOLDER`);
}
