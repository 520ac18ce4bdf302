import { z } from 'zod';

/**
 * CDS Hooks 2.0.1 response cards: https://cds-hooks.hl7.org/2.0/#card-attributes
 * Optional attributes are left out rather than sent empty or null (spec: "no null or empty values").
 */

export const CodingSchema = z
  .object({ system: z.string().min(1), code: z.string().min(1), display: z.string().min(1).optional() })
  .strict();

export const SourceSchema = z
  .object({
    label: z.string().min(1),
    url: z.url().optional(),
    icon: z.url().optional(),
    topic: CodingSchema.optional(),
  })
  .strict();

export const ActionSchema = z
  .object({
    type: z.enum(['create', 'update', 'delete']),
    description: z.string().min(1),
    resource: z.record(z.string(), z.unknown()).optional(),
    resourceId: z.string().min(1).optional(),
  })
  .strict();

export const SuggestionSchema = z
  .object({
    label: z.string().min(1),
    uuid: z.uuid().optional(),
    isRecommended: z.boolean().optional(),
    actions: z.array(ActionSchema).min(1).optional(),
  })
  .strict();

export const LinkSchema = z
  .object({
    label: z.string().min(1),
    url: z.url(),
    type: z.enum(['absolute', 'smart']),
    appContext: z.string().min(1).optional(),
    autolaunchable: z.boolean().optional(),
  })
  .strict()
  .refine((link) => link.appContext === undefined || link.type === 'smart', {
    message: 'appContext is only allowed on smart links',
    path: ['appContext'],
  });

export const CardSchema = z
  .object({
    uuid: z.uuid().optional(),
    summary: z.string().min(1).max(139),
    detail: z.string().min(1).optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: SourceSchema,
    suggestions: z.array(SuggestionSchema).min(1).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(CodingSchema.required({ display: true })).min(1).optional(),
    links: z.array(LinkSchema).min(1).optional(),
  })
  .strict()
  .refine((card) => card.suggestions === undefined || card.selectionBehavior !== undefined, {
    message: 'selectionBehavior is required when suggestions are present',
    path: ['selectionBehavior'],
  });

export type Coding = z.infer<typeof CodingSchema>;
export type Suggestion = z.infer<typeof SuggestionSchema>;
export type Link = z.infer<typeof LinkSchema>;
export type Card = z.infer<typeof CardSchema>;
