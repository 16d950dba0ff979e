/**
 * Durations as k6 writes them ("20s", "1m30s", "500ms", "2h"), for the k6 scripts here: k6 takes
 * them as strings and offers no parser, and the scripts need them as numbers to lay out phases.
 */

/** Milliseconds in a k6 duration; throws on anything else. */
export function durationMs(duration: string): number {
  const parts = duration.match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g);
  if (parts === null || parts.join('') !== duration) throw new Error(`not a k6 duration: '${duration}'`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((total, p) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(p)!;
    return total + Number(m[1]) * unit[m[2]!]!;
  }, 0);
}
