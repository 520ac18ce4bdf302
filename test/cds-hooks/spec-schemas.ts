/**
 * zod schemas written from the CDS Hooks 2.0.1 text (https://cds-hooks.hl7.org/2.0/), independent of
 * the service's own schemas, to validate what the service sends. "No null or empty values" is
 * checked for every attribute.
 */
import { z } from 'zod';

function noNullOrEmpty(value: unknown, path: string[] = []): string | undefined {
  if (value === null) return path.join('.');
  if (typeof value === 'string') return value === '' ? path.join('.') : undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const bad = noNullOrEmpty(v, [...path, String(i)]);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    if (Object.keys(value).length === 0) return path.join('.');
    for (const [k, v] of Object.entries(value)) {
      // `cards: []` is the one empty value the spec allows.
      if (k === 'cards' && Array.isArray(v) && v.length === 0) continue;
      const bad = noNullOrEmpty(v, [...path, k]);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}

const NoEmpty = <T extends z.ZodType>(schema: T) =>
  schema.superRefine((value, ctx) => {
    const bad = noNullOrEmpty(value);
    if (bad !== undefined)
      ctx.addIssue({ code: 'custom', message: `null or empty value at ${bad}` });
  });

const Coding = z.object({ code: z.string(), system: z.string(), display: z.string().optional() });
const Extension = z.record(z.string(), z.unknown()).optional();

/** Discovery: https://cds-hooks.hl7.org/2.0/#response */
export const SpecDiscoverySchema = NoEmpty(
  z
    .object({
      services: z.array(
        z
          .object({
            hook: z.string(),
            title: z.string().optional(),
            description: z.string(),
            id: z.string(),
            prefetch: z.record(z.string(), z.string()).optional(),
            usageRequirements: z.string().optional(),
            extension: Extension,
          })
          .strict(),
      ),
      extension: Extension,
    })
    .strict(),
);

const Action = z
  .object({
    type: z.enum(['create', 'update', 'delete']),
    description: z.string(),
    resource: z.record(z.string(), z.unknown()).optional(),
    resourceId: z.string().optional(),
    extension: Extension,
  })
  .strict();

const Link = z
  .object({
    label: z.string(),
    url: z.url(),
    type: z.enum(['absolute', 'smart']),
    appContext: z.string().optional(),
    autolaunchable: z.boolean().optional(),
    extension: Extension,
  })
  .strict()
  .refine(
    (l) => l.appContext === undefined || l.type === 'smart',
    'appContext only with smart links',
  );

/** Card: https://cds-hooks.hl7.org/2.0/#card-attributes */
export const SpecCardSchema = z
  .object({
    uuid: z.string().optional(),
    summary: z.string().max(139),
    detail: z.string().optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: z
      .object({
        label: z.string(),
        url: z.url().optional(),
        icon: z.url().optional(),
        topic: Coding.optional(),
        extension: Extension,
      })
      .strict(),
    suggestions: z
      .array(
        z
          .object({
            label: z.string(),
            uuid: z.string().optional(),
            isRecommended: z.boolean().optional(),
            actions: z.array(Action).optional(),
            extension: Extension,
          })
          .strict(),
      )
      .optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(Coding.required({ display: true })).optional(),
    links: z.array(Link).optional(),
    extension: Extension,
  })
  .strict()
  .refine((c) => c.suggestions === undefined || c.selectionBehavior !== undefined, {
    message: 'selectionBehavior is required with suggestions',
  });

/** Service response: https://cds-hooks.hl7.org/2.0/#cds-service-response */
export const SpecResponseSchema = NoEmpty(
  z
    .object({
      cards: z.array(SpecCardSchema),
      systemActions: z.array(Action).optional(),
      extension: Extension,
    })
    .strict(),
);

/** Error bodies: a FHIR OperationOutcome (3.0 ballot SHOULD; the house rule). */
export const OperationOutcomeSchema = z.object({
  resourceType: z.literal('OperationOutcome'),
  issue: z
    .array(
      z.object({
        severity: z.enum(['fatal', 'error', 'warning', 'information']),
        code: z.string().min(1),
        diagnostics: z.string().min(1).optional(),
        expression: z.array(z.string().min(1)).min(1).optional(),
      }),
    )
    .min(1),
});
