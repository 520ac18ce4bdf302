import type { CriterionResultValue, ScreenReport, ScreenedPatient } from '../domain/screening.js';

const MARK: Record<CriterionResultValue, string> = {
  pass: 'ok',
  fail: 'FAIL',
  unknown: '?',
  manual: 'manual',
};

/** The table's opening line and a blank line. */
export function formatTableHeader(asOf: string): string {
  return `Screening as of ${asOf}\n\n`;
}

/** One patient's block: the source, one line per trial, then what is open; a blank line after. */
export function formatPatientBlock(patient: ScreenedPatient): string {
  const lines: string[] = [`${patient.source}  (Patient/${patient.patientId})`];
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
  return `${lines.join('\n')}\n\n`;
}

/** A readable summary for people: one block per patient, one line per trial, then what is open. */
export function formatScreeningTable(report: ScreenReport): string {
  return formatTableHeader(report.asOf) + report.patients.map(formatPatientBlock).join('');
}
