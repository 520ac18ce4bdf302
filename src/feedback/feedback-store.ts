import { fileURLToPath } from 'node:url';
import type { FeedbackEntry } from './feedback-request.js';

/**
 * Default location of the feedback database: `data/feedback.sqlite` in the project (gitignored:
 * `data/*.sqlite*`), found relative to this module so that src/ (tsx) and dist/ (node) agree.
 */
export const DEFAULT_FEEDBACK_DB_PATH = fileURLToPath(
  new URL('../../data/feedback.sqlite', import.meta.url),
);
/** How long the ledger remembers a card uuid (feedback may come days after a card was shown). */
export const DEFAULT_CARD_TTL_DAYS = 90;

/**
 * The ports of the feedback feature: the hook handler tells the ledger which cards it issued, the
 * feedback route records what clinicians did with them, the report command reads the totals.
 * Nothing here holds a patient identifier: cards are known by uuid, calls by hookInstance.
 */

/** A card the service issued and the trial it is about. */
export interface IssuedCardRef {
  readonly uuid: string;
  readonly trialId: string;
}

/** Remembers, durably and for a limited time, which trial each issued card uuid belongs to. */
export interface CardLedger {
  /**
   * Records the cards of one hook call; also counts them as shown, per trial.
   * @param call - the service id, the hook call's hookInstance and the cards with their trials.
   */
  remember(call: {
    readonly serviceId: string;
    readonly hookInstance: string;
    readonly cards: readonly IssuedCardRef[];
  }): void;
  /**
   * The trial and hook call of a card issued and not yet expired, if any.
   * @param cardUuid - a card uuid as echoed in feedback.
   */
  lookup(
    cardUuid: string,
  ):
    | { readonly serviceId: string; readonly trialId: string; readonly hookInstance: string }
    | undefined;
}

/** What storing one feedback body did. */
export interface FeedbackRecordResult {
  /** Entries stored for the first time. */
  readonly stored: number;
  /** Entries already stored (the same card, outcome and timestamp): ignored. */
  readonly duplicates: number;
  /** Entries about cards the ledger does not know (never issued here, or expired). */
  readonly unknownCards: number;
}

/** One trial's line in the feedback report. */
export interface TrialFeedbackSummary {
  /** The trial, or null for feedback on cards the ledger did not know. */
  readonly trialId: string | null;
  readonly shown: number;
  readonly accepted: number;
  readonly overridden: number;
  /** Overrides by reason (its display, or its code), "no reason given" when none; most first. */
  readonly overriddenByReason: readonly { readonly reason: string; readonly count: number }[];
}

export interface FeedbackStore {
  /**
   * Stores feedback entries for a service; duplicates are ignored.
   * @param serviceId - the `{id}` of `/cds-services/{id}/feedback`.
   * @param entries - the validated entries.
   */
  record(serviceId: string, entries: readonly FeedbackEntry[]): FeedbackRecordResult;
  /**
   * Per trial: cards shown, and the latest outcome of each card (accepted or overridden by reason).
   * @param options - restrict to one service.
   */
  report(options?: { readonly serviceId?: string }): readonly TrialFeedbackSummary[];
}

/**
 * A ledger whose failures never fail a hook call: the cards still go out, the error is reported
 * (feedback on those cards is then stored without its trial).
 * @param ledger - the durable ledger.
 * @param onError - reports the failure (a log line, no patient data).
 */
export function nonFatalLedger(ledger: CardLedger, onError: (error: unknown) => void): CardLedger {
  return {
    remember: (call) => {
      try {
        ledger.remember(call);
      } catch (error) {
        onError(error);
      }
    },
    lookup: (cardUuid) => ledger.lookup(cardUuid),
  };
}
