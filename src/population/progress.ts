/**
 * A one-line progress bar for a terminal (stderr): patients done of those announced, rate, failures.
 * Redrawn at most ten times a second; `clear` removes it before the run's last messages.
 */
export interface Progress {
  expect(count: number): void;
  tick(failed: boolean): void;
  /** Prints a message above the bar. */
  note(text: string): void;
  clear(): void;
}

export function createProgress(
  write: (text: string) => void,
  columns: () => number,
  now: () => number = () => performance.now(),
): Progress {
  const started = now();
  let expected = 0;
  let done = 0;
  let failed = 0;
  let drawnAt = -Infinity;
  let shown = false;
  const draw = (force: boolean): void => {
    const t = now();
    if (!force && t - drawnAt < 100) return;
    drawnAt = t;
    const rate = done / Math.max((t - started) / 1000, 0.001);
    const total = Math.max(expected, done);
    const tail = ` ${done}/${total} patients  ${rate.toFixed(1)}/s${failed > 0 ? `  ${failed} failed` : ''}`;
    const width = Math.max(10, Math.min(40, columns() - tail.length - 3));
    const filled = total === 0 ? 0 : Math.round((width * done) / total);
    write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}`);
    shown = true;
  };
  return {
    expect(count) {
      expected += count;
      draw(false);
    },
    tick(isFailure) {
      done++;
      if (isFailure) failed++;
      draw(false);
    },
    note(text) {
      if (shown) write('\r\x1b[2K');
      write(text);
      if (shown) draw(true);
    },
    clear() {
      if (shown) write('\r\x1b[2K');
      shown = false;
    },
  };
}
