/**
 * The screening date when none is given: the one definition of "today" for the service and the
 * CLI (issue 16 item 4). It is the calendar date in the process time zone: the `TZ` environment
 * variable (an IANA name such as `Europe/Berlin`), or the system's zone when `TZ` is unset. A
 * clinician's "within 14 days of screening" counts from the local date, not from UTC's (which in
 * the Americas turns to tomorrow in the evening). See README, "The screening date".
 * @param now - the instant (default: now).
 * @param timeZone - an IANA time zone (default: the process's, TZ).
 * @returns YYYY-MM-DD.
 */
export function today(now: Date = new Date(), timeZone?: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    ...(timeZone !== undefined ? { timeZone } : {}),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year').padStart(4, '0')}-${part('month')}-${part('day')}`;
}
