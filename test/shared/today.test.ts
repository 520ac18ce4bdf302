/**
 * One "today" (issue 16 item 4): the screening date the service and the CLI use when none is
 * given is the calendar date in the process time zone (TZ), not UTC's.
 */
import { readFileSync } from 'node:fs';
import { today } from '../../src/shared/today.js';

describe('today', () => {
  it('is the date in the process time zone', () => {
    const instant = new Date('2026-12-03T20:30:00Z');
    expect(today(instant, 'America/Chicago')).toBe('2026-12-03'); // UTC-6: still the 3rd
    expect(today(instant, 'Asia/Tokyo')).toBe('2026-12-04'); // UTC+9: already the 4th
    expect(today(new Date('2026-01-01T00:00:00Z'), 'UTC')).toBe('2026-01-01');
    expect(today(new Date('2025-12-31T23:59:59Z'), 'UTC')).toBe('2025-12-31');
    // Without a zone: the process's, as Intl resolves it from TZ.
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(today(instant)).toBe(today(instant, zone));
  });

  it('is the one definition the service and the CLI use', () => {
    for (const file of ['src/service.ts', 'src/cli/screen.ts']) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      expect(text).toContain("import { today } from '");
      expect(text).not.toMatch(/new Date\(\)\.to|toLocaleDateString/);
    }
  });
});
