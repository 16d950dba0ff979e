/** Node 20's zlib with its crc32 (added in 20.15), typed for the tests. */
import * as nodeZlib from 'node:zlib';

export const zlib = nodeZlib as typeof nodeZlib & { crc32(data: Buffer): number };
