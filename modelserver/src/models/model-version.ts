/**
 * @module models/model-version
 * Reads a request's model version string as Triton does (server/src/common.cc,
 * GetModelVersionFromString): C++ `std::stol`, which skips leading whitespace, takes an optional
 * sign and the longest run of digits, and ignores the rest ("1abc" is version 1).
 */
import { invalidArgument } from '../errors.js';

const LEADING_INTEGER = /^[\s]*([+-]?\d+)/;
const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

/**
 * The version a request names (a bigint: std::stol reads 64 bits): -1n for "" (the server picks), else the number. Throws
 * INVALID_ARGUMENT with Triton's messages for what std::stol rejects and for negative numbers.
 *
 * @example
 * parseModelVersion('');     // -1n
 * parseModelVersion('1abc'); // 1n
 * parseModelVersion('abc');  // throws "failed to get model version from specified version string 'abc' (details: stol), ..."
 */
export function parseModelVersion(version: string): bigint {
  if (version === '') return -1n;
  const digits = LEADING_INTEGER.exec(version)?.[1];
  const value = digits === undefined ? undefined : BigInt(digits);
  // std::stol throws invalid_argument or out_of_range, both with what() "stol".
  if (value === undefined || value > LONG_MAX || value < LONG_MIN) {
    throw invalidArgument(
      `failed to get model version from specified version string '${version}' (details: stol), version should be an integral value > 0`,
    );
  }
  if (value < 0n) throw invalidArgument(`invalid model version specified '${version}' , version should be an integral value > 0`);
  return value;
}
