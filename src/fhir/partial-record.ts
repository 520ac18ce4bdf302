/**
 * A record read only in part (issue 12): a search cut at FHIR_MAX_PAGES / FHIR_MAX_RESOURCES, a
 * searchset whose OperationOutcome says the server withheld some of it (Epic: "Client not
 * authorized for ... Health Concerns", severity warning), a drug whose Medication could not be
 * read. A criterion that reads such a type is never decided from the part that was read: it is
 * unknown, and the card says why.
 */
import type { PartialReason } from '../domain/screening.js';
import type { FhirResourceJson } from './patient-data-source.js';

export type { PartialReason };

/** The resource types read only in part, and why. */
export type PartialTypes = Readonly<Record<string, PartialReason>>;

/**
 * Whether an OperationOutcome says a search is incomplete (an issue of severity warning, error or
 * fatal), and why: `too-costly` (the service's own cut, or a server's) is a record too long to
 * read; anything else is data withheld.
 * @returns the reason, or undefined for an outcome that is information only.
 */
export function outcomePartialReason(outcome: FhirResourceJson): PartialReason | undefined {
  const issues = Array.isArray(outcome.issue) ? (outcome.issue as unknown[]) : [];
  let reason: PartialReason | undefined;
  for (const issue of issues) {
    const { severity, code } = (issue ?? {}) as { severity?: unknown; code?: unknown };
    if (severity !== 'warning' && severity !== 'error' && severity !== 'fatal') continue;
    if (code === 'too-costly') return 'too-long';
    reason = 'withheld';
  }
  return reason;
}

/** The OperationOutcome a reader puts in a searchset it cut short (read by outcomePartialReason). */
export function truncationOutcome(limit: string, type?: string): FhirResourceJson {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'warning',
        code: 'too-costly',
        diagnostics: `the ${type === undefined ? '' : `${type} `}search was cut at ${limit}; the rest was not read`,
      },
    ],
  };
}

/**
 * Adds a reason for a type, keeping the stronger one (a cut record outranks the others).
 * @param into - the types so far.
 * @param type - a resource type.
 * @param reason - why it is partial.
 */
export function addPartial(
  into: Record<string, PartialReason>,
  type: string,
  reason: PartialReason,
): void {
  const current = into[type];
  if (current === 'too-long') return;
  if (current === 'withheld' && reason === 'unresolved-medication') return;
  into[type] = reason;
}
