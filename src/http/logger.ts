import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths removed from every log line. Request bodies are never logged; these catch an accidental
 * `log.info({ req })` or a hook request passed as a field.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'fhirAuthorization',
  '*.fhirAuthorization',
  'access_token',
  '*.access_token',
  'prefetch',
  '*.prefetch',
  'context',
  '*.context',
  'body',
  '*.body',
];

/**
 * One JSON-line logger for the process.
 * @param level - pino level (LOG_LEVEL).
 * @param destination - where lines go (stdout by default; tests capture them).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'cds-trial-matcher' },
    redact: { paths: REDACTED_PATHS, remove: true },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
