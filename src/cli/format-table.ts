import type { CriterionResultValue } from '../engine/screening.js';
import type { ScreenReport } from './screen.js';

const MARK: Record<CriterionResultValue, string> = {
  pass: 'ok',
  fail: 'FAIL',
  unknown: '?',
  manual: 'manual',
};

/** A readable summary for people: one block per patient, one line per trial, then what is open. */
export function formatScreeningTable(report: ScreenReport): string {
  const lines: string[] = [`Screening as of ${report.asOf}`, ''];
  for (const patient of report.patients) {
    lines.push(`${patient.source}  (Patient/${patient.patientId})`);
    for (const trial of patient.trials) {
      const count = (value: CriterionResultValue): number =>
        trial.criteria.filter((c) => c.result === value).length;
      const cohorts =
        trial.cohorts === undefined ? '' : `  cohorts: ${trial.cohorts.join(', ') || 'none'}`;
      lines.push(
        `  ${trial.id.padEnd(12)} ${trial.status.padEnd(12)} pass ${String(count('pass')).padStart(2)}  fail ${String(count('fail')).padStart(2)}  unknown ${String(count('unknown')).padStart(2)}  manual ${String(count('manual')).padStart(2)}${cohorts}`,
      );
      for (const criterion of trial.criteria.filter(
        (c) => c.result === 'fail' || c.result === 'unknown',
      )) {
        const cohort = criterion.cohort === undefined ? '' : `[${criterion.cohort}] `;
        lines.push(`      ${MARK[criterion.result].padEnd(6)} ${cohort}${criterion.id}`);
      }
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
