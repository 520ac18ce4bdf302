import type { Bundle } from 'fhir/r4.js';
import type { Card } from '../cds-hooks/card.js';
import type { PatientScreening, TrialResult } from '../engine/screening.js';
import type { Trial } from '../trials/trial.js';

/** What card rendering needs besides the engine's results. */
export interface CardContext {
  /** The normalised patient bundle the engine evaluated: evidence references point into it. */
  readonly bundle: Bundle;
  /** Generates card and suggestion uuids (injected so tests are deterministic). */
  readonly newId: () => string;
}

function renderTrialCard(result: TrialResult, trial: Trial, context: CardContext): Card {
  const toConfirm = result.criteria.filter((c) => c.result === 'unknown' || c.result === 'manual').length;
  const summary = `Possible match: ${trial.shortTitle} (${trial.id}), ${String(toConfirm)} criteria to confirm`;
  return {
    uuid: context.newId(),
    summary: summary.length < 140 ? summary : `${summary.slice(0, 136)}...`,
    indicator: 'info',
    source: {
      label: trial.sponsor === undefined ? `${trial.id} study team` : `${trial.id}, ${trial.sponsor}`,
      url: `https://clinicaltrials.gov/study/${trial.id}`,
    },
    detail: result.criteria.map((c) => `- **${c.result}**: ${c.text}`).join('\n'),
    links: [{ label: `${trial.id} on ClinicalTrials.gov`, url: `https://clinicaltrials.gov/study/${trial.id}`, type: 'absolute' }],
  };
}

/**
 * One card per trial the patient may qualify for (eligible or needs-review), eligible first.
 * @param screening - the engine's results for one patient.
 * @param trials - the trial definitions (metadata for the cards).
 * @param context - the patient bundle and the id generator.
 */
export function renderCards(screening: PatientScreening, trials: readonly Trial[], context: CardContext): Card[] {
  const byId = new Map(trials.map((t) => [t.id, t]));
  return screening.trials
    .filter((r) => r.status !== 'ineligible')
    .sort((a, b) => Number(a.status !== 'eligible') - Number(b.status !== 'eligible'))
    .flatMap((r) => {
      const trial = byId.get(r.id);
      return trial === undefined ? [] : [renderTrialCard(r, trial, context)];
    });
}
