/**
 * Strings that came from outside (a request's `hook`, a FHIR server's `resourceType`, any field a
 * message names) are echoed into error bodies and log lines through this one helper: bounded in
 * length and quoted, so that a megabyte-long value cannot become a megabyte-long answer or log line,
 * and control characters cannot forge a line (issue 15 item 10).
 */

/** Characters of an untrusted string kept in a message. */
export const ECHO_MAX_CHARS = 64;

/**
 * The string quoted as JSON, cut to `max` characters with an ellipsis and the full length.
 * @param value - what was received (a non-string is described by its type).
 * @param max - characters kept.
 * @returns e.g. `"patient-view"`, or `"aaaa…" (100000 characters)`.
 */
export function quoteUntrusted(value: unknown, max = ECHO_MAX_CHARS): string {
  if (typeof value !== 'string') return `(a ${value === null ? 'null' : typeof value})`;
  const chars = Array.from(value);
  if (chars.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(`${chars.slice(0, max).join('')}…`)} (${chars.length} characters)`;
}
