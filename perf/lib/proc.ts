/**
 * @module perf/lib/proc
 * A process's CPU time and memory from Linux's /proc, for benchmarks whose load generator shares
 * the machine with what it measures: CPU seconds sampled over time (what each phase cost each
 * process) and resident memory, current and peak, with the peak resettable.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;
/** Clock ticks per second of /proc/PID/stat's times (getconf CLK_TCK; 100 on Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds `pid` has used, or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields count from after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
  return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond();
}

export interface Memory {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the most resident since start or since {@link resetPeakMemory}. */
  readonly peakBytes: number;
}

/** `pid`'s resident memory, or undefined once it is gone. */
export function memory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
}

/** Resets `pid`'s VmHWM to its current RSS (clear_refs 5, Linux 4.0+); false where not allowed. */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds of named processes sampled every `intervalMs`, with the wall clock (epoch ms). */
export class CpuSampler {
  private readonly samples: Array<{ readonly atMs: number; readonly cpu: Record<string, number | undefined> }> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: () => Record<string, number | undefined>,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const cpu = Object.fromEntries(Object.entries(this.pids()).map(([name, pid]) => [name, pid === undefined ? undefined : cpuSeconds(pid)]));
    this.samples.push({ atMs: Date.now(), cpu });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /**
   * CPU seconds `name` used between `fromMs` and `toMs` (epoch ms), from the samples on either
   * side of each end, linearly interpolated; past its last sample (a process that has exited, or
   * one not sampled yet) its last figure. Undefined before its first sample.
   */
  between(name: string, fromMs: number, toMs: number): number | undefined {
    const known = this.samples.filter((s) => s.cpu[name] !== undefined);
    const at = (t: number): number | undefined => {
      const before = [...known].reverse().find((s) => s.atMs <= t);
      if (!before) return undefined;
      const after = known.find((s) => s.atMs >= t) ?? before;
      if (after.atMs === before.atMs) return after.cpu[name];
      const f = (t - before.atMs) / (after.atMs - before.atMs);
      return before.cpu[name]! + f * (after.cpu[name]! - before.cpu[name]!);
    };
    const a = at(fromMs);
    const b = at(toMs);
    return a === undefined || b === undefined ? undefined : b - a;
  }
}
