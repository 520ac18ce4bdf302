import type { TrialFeedbackSummary } from './feedback-store.js';

const NO_REASON = 'no reason given';

/** Cards shown for a trial (summed over days). */
export interface ShownRow {
  trial_id: string;
  shown: number;
}

/** The latest outcome of one card. */
export interface LatestOutcomeRow {
  trial_id: string | null;
  outcome: 'accepted' | 'overridden';
  reason_code: string | null;
  reason_display: string | null;
  /** Issue 18; absent in rows read before the column existed. */
  rules_version?: string | null;
}

/**
 * The feedback report from what either store reads: per trial, cards shown, accepted and
 * overridden by reason (most first, "no reason given" last among equals), unknown cards last.
 * @param shownRows - shown counts per trial.
 * @param latest - the latest outcome of each card.
 */
export function summarizeFeedback(
  shownRows: readonly ShownRow[],
  latest: readonly LatestOutcomeRow[],
): TrialFeedbackSummary[] {
  interface Tally {
    shown: number;
    accepted: number;
    overridden: number;
    reasons: Map<string, number>;
    versions: Set<string>;
  }
  const byTrial = new Map<string | null, Tally>();
  const tally = (trialId: string | null): Tally => {
    let t = byTrial.get(trialId);
    if (t === undefined) {
      t = { shown: 0, accepted: 0, overridden: 0, reasons: new Map(), versions: new Set() };
      byTrial.set(trialId, t);
    }
    return t;
  };
  for (const row of shownRows) tally(row.trial_id).shown += row.shown;
  for (const row of latest) {
    const t = tally(row.trial_id);
    if (row.rules_version !== undefined && row.rules_version !== null)
      t.versions.add(row.rules_version);
    if (row.outcome === 'accepted') {
      t.accepted++;
    } else {
      t.overridden++;
      const reason = row.reason_display ?? row.reason_code ?? NO_REASON;
      t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1);
    }
  }
  return [...byTrial.entries()]
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)))
    .map(([trialId, t]) => ({
      trialId,
      shown: t.shown,
      accepted: t.accepted,
      overridden: t.overridden,
      overriddenByReason: [...t.reasons.entries()]
        .map(([reason, count]) => ({ reason, count }))
        .sort(
          (a, b) =>
            b.count - a.count ||
            Number(a.reason === NO_REASON) - Number(b.reason === NO_REASON) ||
            a.reason.localeCompare(b.reason),
        ),
      ...(t.versions.size > 0 ? { rulesVersions: [...t.versions].sort() } : {}),
    }));
}
