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
  /** The rules version the card was made with (issue 18); older cards have none. */
  readonly rulesVersion?: string;
}

/** What the ledger knows of an issued card. */
export interface IssuedCardLookup {
  readonly serviceId: string;
  readonly trialId: string;
  readonly hookInstance: string;
  /** The rules version the card was made with (issue 18), when recorded. */
  readonly rulesVersion?: string;
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
  }): Promise<void>;
  /**
   * The trial and hook call of a card issued and not yet expired, if any.
   * @param cardUuid - a card uuid as echoed in feedback.
   */
  lookup(cardUuid: string): Promise<IssuedCardLookup | undefined>;
}

/** What storing one feedback body did. */
export interface FeedbackRecordResult {
  /** Entries stored for the first time. */
  readonly stored: number;
  /**
   * Entries already stored: the same card and outcome with the same accepted suggestions or the
   * same override reason, whatever their timestamps (a client resending, or a second click).
   */
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
  /**
   * The rules versions of the cards with feedback (issue 18), oldest name first; absent when no
   * card had one (cards issued before versions were recorded).
   */
  readonly rulesVersions?: readonly string[];
}

export interface FeedbackStore {
  /**
   * Stores feedback entries for a service; duplicates are ignored.
   * @param serviceId - the `{id}` of `/cds-services/{id}/feedback`.
   * @param entries - the validated entries.
   */
  record(serviceId: string, entries: readonly FeedbackEntry[]): Promise<FeedbackRecordResult>;
  /**
   * Per trial: cards shown, and the latest outcome of each card (accepted or overridden by reason).
   * @param options - restrict to one service.
   */
  report(options?: { readonly serviceId?: string }): Promise<readonly TrialFeedbackSummary[]>;
  /** Releases the database (graceful shutdown, tests). */
  close(): Promise<void>;
  /** Readiness (issue 18): resolves when the database answers, rejects otherwise. */
  ping?(): Promise<void>;
}

/**
 * What makes two feedback entries the same decision: the card, the outcome, and the suggestions
 * accepted (in any order) or the override reason (its coded reason; none is a reason too). The
 * timestamp is not part of it: a client resending a decision, or a clinician clicking twice,
 * records it once (issue 14).
 * @param entry - a validated entry.
 */
export function decisionKey(entry: FeedbackEntry): string {
  if (entry.outcome === 'accepted')
    return JSON.stringify((entry.acceptedSuggestions ?? []).map((s) => s.id).sort());
  const reason = entry.overrideReason?.reason;
  return reason === undefined ? '' : JSON.stringify([reason.system, reason.code]);
}

/** How long a hook call waits for the ledger before it answers anyway. */
export const LEDGER_WAIT_MS = 250;

/**
 * A ledger whose failures never fail a hook call: the cards still go out, the error is reported
 * (feedback on those cards is then stored without its trial). A ledger slower than `waitMs` (a
 * database out of reach) is not waited for: the write goes on in the background.
 * @param ledger - the durable ledger.
 * @param onError - reports the failure (a log line, no patient data).
 * @param waitMs - the longest a hook call waits for the ledger.
 */
export function nonFatalLedger(
  ledger: CardLedger,
  onError: (error: unknown) => void,
  waitMs = LEDGER_WAIT_MS,
): CardLedger {
  return {
    remember: async (call) => {
      const written = ledger.remember(call).catch(onError);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          onError(new Error(`the card ledger took longer than ${waitMs} ms`));
          resolve();
        }, waitMs);
      });
      await Promise.race([written, late]);
      clearTimeout(timer);
    },
    lookup: (cardUuid) => ledger.lookup(cardUuid),
  };
}
