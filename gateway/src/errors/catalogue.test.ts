import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CATALOGUE } from './catalogue.js';
import { GatewayError } from './gateway-error.js';

test('every code is GW_ERR_*, has an HTTP error status and a title, and is unique', () => {
  const codes = Object.keys(ERROR_CATALOGUE);
  assert.equal(new Set(codes).size, codes.length);
  for (const [code, def] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(code, /^GW_ERR_[A-Z]+(_[A-Z]+)*$/);
    assert.ok(def.status >= 400 && def.status < 600, code);
    assert.ok(def.title.length > 0, code);
  }
});

test('every code is documented in README.md with its status', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const [code, def] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${def.status} \\|`), `${code} missing from the README's error table`);
  }
});

test('GatewayError takes status and title from the catalogue', () => {
  const e = new GatewayError('GW_ERR_UPLOAD_TOO_LARGE', 'too big');
  assert.equal(e.status, 413);
  assert.equal(e.title, ERROR_CATALOGUE.GW_ERR_UPLOAD_TOO_LARGE.title);
  assert.equal(e.detail, 'too big');
});
