import { z } from 'zod';
import { AppError } from '../shared/errors.js';

/**
 * The CDS Hooks 2.0.1 feedback body: {@link https://cds-hooks.hl7.org/2.0/#feedback}.
 * `{ "feedback": [ { card, outcome, acceptedSuggestions?, overrideReason?, outcomeTimestamp } ] }`.
 */

const Text = z.string().regex(/\S/, 'must not be empty or blank');

/** A Coding given as an override reason: the spec requires `display` on override reasons. */
const ReasonCodingSchema = z.object({ system: Text, code: Text, display: Text }).strict();

export const FeedbackEntrySchema = z
  .object({
    /** The `uuid` of the card the feedback is about. */
    card: Text,
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z
      .array(z.object({ id: Text }).strict())
      .min(1)
      .optional(),
    overrideReason: z
      .object({ reason: ReasonCodingSchema.optional(), userComment: Text.optional() })
      .strict()
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
  .object({ feedback: z.array(FeedbackEntrySchema).min(1) })
  .loose();

export type FeedbackEntry = z.infer<typeof FeedbackEntrySchema>;
export type FeedbackRequest = z.infer<typeof FeedbackRequestSchema>;

/** A feedback body that does not follow the spec: 400 with an OperationOutcome. */
export class InvalidFeedbackError extends AppError {
  readonly status = 400;
  readonly issueCode = 'invalid' as const;
}

/**
 * Validates a feedback body once; the parsed value is what flows on.
 * @param body - the parsed JSON request body.
 * @throws InvalidFeedbackError naming each problem and its location (`feedback[0].outcome`).
 */
export function parseFeedbackRequest(body: unknown): FeedbackRequest {
  const parsed = FeedbackRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
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
