import { z } from 'zod';

/**
 * CDS Hooks 2.0.1 response cards: {@link https://cds-hooks.hl7.org/2.0/#cds-service-response}.
 *
 * The spec's rules are encoded here so that a test can validate every card the service renders:
 * - "Unless otherwise specified, JSON attributes SHALL NOT be null": every object is strict, and an
 *   optional attribute is either absent or non-empty (strings with a non-blank character, arrays
 *   with an item, objects with a key). `cards: []` is the one empty value the spec allows.
 * - summary under 140 characters, one sentence; indicator, link type, action type and
 *   selectionBehavior enums; selectionBehavior present whenever suggestions are; display on every
 *   override reason; appContext only on smart links; uuids in UUID format.
 */

/** A REQUIRED or OPTIONAL string that is present: not empty and not just whitespace. */
const Text = z.string().regex(/\S/, 'must not be empty or blank');

/** A JSON object with at least one key: the spec forbids empty objects. */
const NonEmptyObject = z
  .record(z.string(), z.unknown())
  .refine((value) => Object.keys(value).length > 0, 'must not be an empty object');

/** Coding: `code` and `system` REQUIRED, `display` OPTIONAL ({@link https://cds-hooks.hl7.org/2.0/#coding}). */
export const CodingSchema = z
  .object({ system: Text, code: Text, display: Text.optional() })
  .strict();

/** An override reason: a Coding whose `display` MUST be present (the EHR shows it to the user). */
export const OverrideReasonCodingSchema = z
  .object({ system: Text, code: Text, display: Text })
  .strict();

export const SourceSchema = z
  .object({
    label: Text,
    url: z.url().optional(),
    icon: z.url().optional(),
    topic: CodingSchema.optional(),
  })
  .strict();

/**
 * An action of a suggestion ({@link https://cds-hooks.hl7.org/2.0/#action}): `resource` SHALL be a
 * new resource for create and the whole resource for update; `resourceId` is for delete.
 */
export const ActionSchema = z
  .object({
    type: z.enum(['create', 'update', 'delete']),
    description: Text,
    resource: NonEmptyObject.refine(
      (r) => typeof r.resourceType === 'string' && r.resourceType !== '',
      'a resource needs a resourceType',
    ).optional(),
    resourceId: Text.optional(),
  })
  .strict()
  .superRefine((action, ctx) => {
    if ((action.type === 'create' || action.type === 'update') && action.resource === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['resource'],
        message: `a ${action.type} action carries the resource`,
      });
    }
    if (action.type === 'delete' && action.resourceId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['resourceId'],
        message: 'a delete action names the resource to delete',
      });
    }
  });

export const SuggestionSchema = z
  .object({
    label: Text,
    uuid: z.uuid().optional(),
    isRecommended: z.boolean().optional(),
    actions: z.array(ActionSchema).min(1).optional(),
  })
  .strict();

export const LinkSchema = z
  .object({
    label: Text,
    url: z.url(),
    type: z.enum(['absolute', 'smart']),
    appContext: Text.optional(),
    autolaunchable: z.boolean().optional(),
  })
  .strict()
  .refine((link) => link.appContext === undefined || link.type === 'smart', {
    message: 'appContext is only allowed on smart links',
    path: ['appContext'],
  });

/**
 * One sentence: no line break, and no sentence end (`.`, `!`, `?`) followed by another sentence.
 * Abbreviations such as "e.g." followed by a lower-case word are allowed.
 */
function isOneSentence(text: string): boolean {
  return !/[\r\n]/.test(text) && !/[.!?]\s+[A-Z0-9]/.test(text);
}

export const CardSchema = z
  .object({
    uuid: z.uuid().optional(),
    summary: Text.max(139, 'summary must be under 140 characters').refine(isOneSentence, {
      message: 'summary must be one sentence',
    }),
    detail: Text.optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: SourceSchema,
    suggestions: z.array(SuggestionSchema).min(1).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(OverrideReasonCodingSchema).min(1).optional(),
    links: z.array(LinkSchema).min(1).optional(),
    // "extension is a reserved name and its value is a JSON object" (2.0.1, Extensions).
    extension: NonEmptyObject.optional(),
  })
  .strict()
  .superRefine((card, ctx) => {
    if (card.suggestions !== undefined && card.selectionBehavior === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['selectionBehavior'],
        message: 'selectionBehavior is required when suggestions are present',
      });
    }
    if (card.suggestions === undefined && card.selectionBehavior !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['selectionBehavior'],
        message: 'selectionBehavior without suggestions',
      });
    }
    const uuids = (card.suggestions ?? []).flatMap((s) => (s.uuid === undefined ? [] : [s.uuid]));
    if (new Set(uuids).size !== uuids.length) {
      ctx.addIssue({ code: 'custom', path: ['suggestions'], message: 'duplicate suggestion uuid' });
    }
  });

/**
 * The service response: `cards` REQUIRED (may be empty: "no guidance"), `systemActions` OPTIONAL
 * ({@link https://cds-hooks.hl7.org/2.0/#http-response}).
 */
export const CdsResponseSchema = z
  .object({
    cards: z.array(CardSchema),
    systemActions: z.array(ActionSchema).min(1).optional(),
  })
  .strict()
  .superRefine((response, ctx) => {
    const uuids = response.cards.flatMap((c) => (c.uuid === undefined ? [] : [c.uuid]));
    if (new Set(uuids).size !== uuids.length) {
      ctx.addIssue({ code: 'custom', path: ['cards'], message: 'duplicate card uuid' });
    }
  });

export type Coding = z.infer<typeof CodingSchema>;
export type OverrideReasonCoding = z.infer<typeof OverrideReasonCodingSchema>;
export type Action = z.infer<typeof ActionSchema>;
export type Suggestion = z.infer<typeof SuggestionSchema>;
export type Link = z.infer<typeof LinkSchema>;
export type Card = z.infer<typeof CardSchema>;
export type CdsResponse = z.infer<typeof CdsResponseSchema>;
