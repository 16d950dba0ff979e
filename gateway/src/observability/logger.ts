/**
 * @module observability/logger
 * The gateway's structured logs: one JSON object per line from pino, with an ISO time and the
 * level by name (`"level":"info"`), so log pipelines need no pino-specific number mapping.
 */
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { DestinationStream, Logger };

/**
 * A pino logger at `level` (`silent` logs nothing), writing to `destination` (default stdout).
 *
 * @example
 * const logger = createLogger('info');
 * logger.child({ requestId }).warn({ code }, 'bad upload');
 */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  const options = {
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
