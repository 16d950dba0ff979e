/**
 * @module config/protoc-binary
 * Locates the protoc executable shipped inside the `protoc` npm package for this platform.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface ProtocAsset {
  readonly platform: string;
  readonly arch: string;
  readonly executable: string;
}

let cachedPath: string | undefined;

/**
 * Absolute path of the protoc binary for `process.platform`/`process.arch`, chosen through the
 * package's own `assets.json` (the same table its `protoc.cjs` wrapper uses). Calling the binary
 * directly saves starting a second Node process per config file.
 *
 * @throws Error when the package ships no binary for this platform.
 * @example
 * spawnSync(protocBinaryPath(), ['--version']);
 */
export function protocBinaryPath(): string {
  if (cachedPath !== undefined) return cachedPath;
  const packageDir = dirname(createRequire(import.meta.url).resolve('protoc/package.json'));
  // assets.json is the package's data file, so its shape is checked only as far as we use it.
  const assets = JSON.parse(readFileSync(join(packageDir, 'assets.json'), 'utf8')) as ProtocAsset[];
  const asset = assets.find((a) => a.platform === process.platform && a.arch === process.arch);
  if (asset === undefined) {
    throw new Error(
      `the protoc npm package has no executable for ${process.platform}/${process.arch}; ` +
        'model configuration files cannot be parsed on this machine',
    );
  }
  cachedPath = join(packageDir, 'bin', asset.executable);
  return cachedPath;
}
