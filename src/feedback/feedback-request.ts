import { z } from 'zod';
import { InvalidFeedbackError } from '../shared/errors.js';

/**
 * The CDS Hooks 2.0.1 feedback body: {@link https://cds-hooks.hl7.org/2.0/#feedback}.
 * `{ "feedback": [ { card, outcome, acceptedSuggestions?, overrideReason?, outcomeTimestamp } ] }`.
 */

/** Entries in one feedback body at most: a client sends one per card it showed (issue 15). */
export const MAX_FEEDBACK_ENTRIES = 100;

/** A non-blank string of at most `max` characters. */
const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${String(max)} characters`)
    .regex(/\S/, 'must not be empty or blank');

/**
 * A Coding given as an override reason. `display` is optional: the spec's own example and the
 * CDS Hooks Sandbox send `{code, system}` (issue 14); the card's display is looked up instead.
 */
const ReasonCodingSchema = z
  .object({ system: text(1024), code: text(256), display: text(1024).optional() })
  .loose();

export const FeedbackEntrySchema = z
  .object({
    /** The `uuid` of the card the feedback is about (this service issues RFC 4122 uuids). */
    card: z.uuid('must be the uuid of a card'),
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z
      .array(z.object({ id: text(256) }).loose())
      .min(1)
      .max(20)
      .optional(),
    overrideReason: z
      .object({ reason: ReasonCodingSchema.optional(), userComment: text(4000).optional() })
      .loose()
      .refine((r) => r.reason !== undefined || r.userComment !== undefined, {
        message: 'overrideReason must not be empty',
      })
      .optional(),
    /** ISO 8601 in UTC; an explicit offset is tolerated and converted. */
    outcomeTimestamp: z.iso.datetime({ offset: true }),
  })
  // Clients may add their own attributes (`extension`): they are ignored rather than rejected.
  .loose()
  .superRefine((entry, ctx) => {
    if (entry.outcome === 'accepted' && entry.acceptedSuggestions === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['acceptedSuggestions'],
        message: 'acceptedSuggestions is required when the outcome is accepted',
      });
    }
  });

export const FeedbackRequestSchema = z
  .object({
    feedback: z
      .array(FeedbackEntrySchema)
      .min(1)
      .max(MAX_FEEDBACK_ENTRIES, `at most ${String(MAX_FEEDBACK_ENTRIES)} entries per body`),
  })
  .loose();

export type FeedbackEntry = z.infer<typeof FeedbackEntrySchema>;
export type FeedbackRequest = z.infer<typeof FeedbackRequestSchema>;

/** A reason a card offers (`overrideReasons`): matched by system and code. */
export interface OfferedReason {
  readonly system: string;
  readonly code: string;
  readonly display: string;
}

/**
 * Validates a feedback body once; the parsed value is what flows on. An override reason that the
 * cards offer (same system and code) takes the card's display, whatever display the client sent
 * or left out, so that reports count one reason once; another reason is kept as sent.
 * @param body - the parsed JSON request body.
 * @param offered - the override reasons the service's cards offer.
 * @throws InvalidFeedbackError naming each problem and its location (`feedback[0].outcome`).
 */
export function parseFeedbackRequest(
  body: unknown,
  offered: readonly OfferedReason[] = [],
): FeedbackRequest {
  const parsed = FeedbackRequestSchema.safeParse(body);
  if (parsed.success) {
    for (const entry of parsed.data.feedback) {
      const reason = entry.overrideReason?.reason;
      if (reason === undefined) continue;
      const match = offered.find((o) => o.system === reason.system && o.code === reason.code);
      if (match !== undefined) reason.display = match.display;
    }
    return parsed.data;
  }
  const issues = parsed.error.issues.slice(0, 10);
  const where = (path: readonly PropertyKey[]): string =>
    path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
      .join('') || '(body)';
  throw new InvalidFeedbackError(
    `invalid feedback: ${issues.map((i) => `${where(i.path)}: ${i.message}`).join('; ')}`,
    { expression: issues.map((i) => where(i.path)) },
  );
}
