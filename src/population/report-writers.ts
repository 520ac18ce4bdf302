/**
 * Streaming writers for the screen CLI's formats. Each writes through a synchronous sink as results
 * come, so that whatever was written survives an interruption:
 * - json: exactly `JSON.stringify(report, null, 2)` of the contract, written patient by patient; a
 *   run stopped by SIGINT still closes the document; a killed one leaves a prefix that ends after a
 *   complete patient object (see README, "Partial output").
 * - csv: a header, then one row per patient and trial (or one `error` row per failed input).
 * - table: the readable summary of issue 3, block by block.
 * - html: see html-report.ts.
 */
import type { CriterionResultValue, TrialResult } from '../domain/screening.js';
import { formatPatientBlock, formatTableHeader } from './format-table.js';
import { createHtmlReportWriter } from './html-report.js';
import type { ReportContext, ReportWriter } from './population-item.js';

export type { ReportContext, ReportWriter } from './population-item.js';

export type OutputFormat = 'json' | 'table' | 'csv' | 'html';

function jsonWriter({ asOf, sink }: ReportContext): ReportWriter {
  let count = 0;
  sink(`{\n  "asOf": ${JSON.stringify(asOf)},\n  "patients": [`);
  return {
    write(result) {
      if (result.kind !== 'screened') return; // failures: stderr (the contract has no place for them)
      const { source, patientId, trials } = result.patient;
      const text = JSON.stringify({ source, patientId, trials }, null, 2).replace(/\n/g, '\n    ');
      sink(`${count === 0 ? '' : ','}\n    ${text}`);
      count++;
    },
    finish() {
      sink(count === 0 ? ']\n}\n' : '\n  ]\n}\n');
    },
  };
}

const CSV_HEADER = [
  'source',
  'patientId',
  'trial',
  'status',
  'pass',
  'fail',
  'unknown',
  'manual',
  'unknownCriteria',
  'error',
];

/** RFC 4180 quoting; a cell that a spreadsheet would run as a formula is prefixed with `'`. */
export function csvCell(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function countOf(trial: TrialResult, value: CriterionResultValue): number {
  return trial.criteria.filter((c) => c.result === value).length;
}

function csvWriter({ sink }: ReportContext): ReportWriter {
  const row = (cells: (string | number)[]): void => {
    sink(`${cells.map(csvCell).join(',')}\r\n`);
  };
  row(CSV_HEADER);
  return {
    write(result) {
      if (result.kind === 'failure') {
        row([
          result.source,
          result.patientId ?? '',
          '',
          'error',
          '',
          '',
          '',
          '',
          '',
          result.message,
        ]);
        return;
      }
      const { source, patientId, trials } = result.patient;
      for (const trial of trials) {
        const unknown = trial.criteria
          .filter((c) => c.result === 'unknown')
          .map((c) => (c.cohort === undefined ? c.id : `${c.cohort}:${c.id}`));
        row([
          source,
          patientId,
          trial.id,
          trial.status,
          countOf(trial, 'pass'),
          countOf(trial, 'fail'),
          countOf(trial, 'unknown'),
          countOf(trial, 'manual'),
          unknown.join(' '),
          '',
        ]);
      }
    },
    finish() {
      // Every row is complete when written.
    },
  };
}

function tableWriter({ asOf, sink }: ReportContext): ReportWriter {
  sink(formatTableHeader(asOf));
  return {
    write(result) {
      if (result.kind === 'screened') sink(formatPatientBlock(result.patient));
      else sink(`${result.source}  INPUT FAILED: ${result.message}\n\n`);
    },
    finish() {
      // Blocks are complete when written.
    },
  };
}

/**
 * Starts a report: the opening is written at once.
 * @param format - the output format.
 * @param context - evaluation date, trial definitions and the sink.
 */
export function createReportWriter(format: OutputFormat, context: ReportContext): ReportWriter {
  switch (format) {
    case 'json':
      return jsonWriter(context);
    case 'csv':
      return csvWriter(context);
    case 'table':
      return tableWriter(context);
    case 'html':
      return createHtmlReportWriter(context);
  }
}
