import { z } from 'zod';

/** Eligibility-criterion kinds as the trial texts state them. */
export const CriterionKindSchema = z.enum(['inclusion', 'exclusion']);

/**
 * One eligibility criterion of a trial. `define` names the CQL definition (Boolean: true = pass,
 * false = fail, null = unknown) in the trial's library; a criterion without `define` is `manual`:
 * no record can decide it. Exclusion criteria are phrased as requirements, so pass never stops
 * enrolment.
 */
export const CriterionSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'criterion ids are kebab-case'),
    kind: CriterionKindSchema,
    cohort: z.string().min(1).optional(),
    text: z.string().min(1),
    define: z.string().min(1).optional(),
    evidence: z.string().min(1).optional(),
    /** The sentence of the trial text that the criterion's reading rests on (cql/README.md). */
    seedQuote: z.string().min(1).optional(),
    /** What a clinician can do to resolve an unknown result ("echocardiogram within 8 weeks"). */
    resolve: z.string().min(1).optional(),
    /**
     * A criterion most patients fail (the trial's diagnosis): when only the trial's status is
     * needed (the CDS service), gates are evaluated first and the evaluation stops at the first
     * criterion that rules the trial out. Never changes a result, only the order of work.
     */
    gate: z.literal(true).optional(),
  })
  .strict();

export const SiteSchema = z
  .object({
    facility: z.string().min(1),
    city: z.string().min(1).optional(),
    country: z.string().min(1).optional(),
    status: z.string().min(1).optional(),
  })
  .strict();

export const ContactSchema = z
  .object({
    name: z.string().min(1),
    role: z.string().min(1).optional(),
    phone: z.string().min(1).optional(),
    email: z.string().min(1).optional(),
  })
  .strict();

export const CohortSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    title: z.string().min(1),
    /** The condition a referral gives as its reason: a SNOMED CT code and display. */
    reason: z.object({ code: z.string().min(1), display: z.string().min(1) }).strict(),
  })
  .strict();

/** A trial definition: data, not code. Adding a trial means adding one of these and its CQL library. */
export const TrialSchema = z
  .object({
    id: z.string().regex(/^NCT\d{8}$/, 'trial ids are NCT numbers'),
    title: z.string().min(1),
    shortTitle: z.string().min(1).max(80),
    product: z.string().min(1),
    sponsor: z.string().min(1).optional(),
    phase: z.string().min(1).optional(),
    status: z.string().min(1),
    enrollment: z.number().int().positive().optional(),
    sites: z.array(SiteSchema).default([]),
    contacts: z.array(ContactSchema).default([]),
    library: z
      .object({ name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), version: z.string().min(1) })
      .strict(),
    cohorts: z.array(CohortSchema).min(1),
    /** What is known to be missing from the available trial text, shown with every result. */
    caveats: z.array(z.string().min(1)).default([]),
    /**
     * The protocol's eligibility criteria are not published (only registry facts are computed):
     * the trial is never more than `needs-review`, whatever the computed criteria say.
     */
    criteriaUnpublished: z.literal(true).optional(),
    criteria: z.array(CriterionSchema).min(1),
  })
  .strict()
  .superRefine((trial, ctx) => {
    const cohortIds = new Set(trial.cohorts.map((c) => c.id));
    const seen = new Set<string>();
    trial.criteria.forEach((criterion, index) => {
      const key = `${criterion.cohort ?? '*'}/${criterion.id}`;
      if (seen.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['criteria', index, 'id'],
          message: `duplicate criterion ${key}`,
        });
      }
      seen.add(key);
      if (criterion.cohort !== undefined && !cohortIds.has(criterion.cohort)) {
        ctx.addIssue({
          code: 'custom',
          path: ['criteria', index, 'cohort'],
          message: `unknown cohort ${criterion.cohort}`,
        });
      }
      if (criterion.define === undefined && criterion.gate === true) {
        ctx.addIssue({
          code: 'custom',
          path: ['criteria', index, 'gate'],
          message: 'a manual criterion cannot be a gate',
        });
      }
      if (criterion.define === undefined && criterion.evidence !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['criteria', index, 'evidence'],
          message: 'a manual criterion has no evidence',
        });
      }
    });
  });

export type CriterionKind = z.infer<typeof CriterionKindSchema>;
export type Criterion = z.infer<typeof CriterionSchema>;
export type Cohort = z.infer<typeof CohortSchema>;
export type Trial = z.infer<typeof TrialSchema>;
