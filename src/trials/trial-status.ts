import type { CriterionResult, TrialStatus } from '../domain/screening.js';
import type { Trial } from '../domain/trial.js';

export interface CohortStatus {
  readonly cohort: string;
  readonly status: TrialStatus;
}

const RANK: Record<TrialStatus, number> = { eligible: 0, 'needs-review': 1, ineligible: 2 };

function statusOf(results: readonly CriterionResult[]): TrialStatus {
  if (results.some((r) => r.result === 'fail')) return 'ineligible';
  if (results.some((r) => r.result === 'unknown')) return 'needs-review';
  return 'eligible';
}

/**
 * A trial's status from its criteria: `ineligible` when a criterion fails (for a multi-cohort
 * trial: in every cohort), `eligible` when every criterion that can be computed passes,
 * `needs-review` otherwise. Manual criteria never decide the status. A trial whose criteria are
 * unpublished (`criteriaPublished: false`) is never more than `needs-review`.
 * @param trial - the trial definition.
 * @param results - one result per criterion of the trial.
 */
export function decideTrialStatus(
  trial: Trial,
  results: readonly CriterionResult[],
): { status: TrialStatus; cohorts: readonly CohortStatus[] } {
  const cohorts = trial.cohorts
    .map((c) => {
      const status = statusOf(results.filter((r) => r.cohort === undefined || r.cohort === c.id));
      return {
        cohort: c.id,
        status: status === 'eligible' && !trial.criteriaPublished ? 'needs-review' : status,
      };
    })
    .sort((a, b) => RANK[a.status] - RANK[b.status]);
  return { status: cohorts[0]?.status ?? 'ineligible', cohorts };
}
