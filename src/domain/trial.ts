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
    /**
     * What a card shows: a short authored label that keeps the threshold and window of `text`
     * ("LVEF ≥ 50 % by echo, ≤ 8 weeks before screening"), phrased as what a pass means (an
     * exclusion: "No severe kidney disease or scleroderma renal crisis"). Cards show `text` in
     * full when there is no label, never a cut sentence.
     */
    label: z.string().min(1).max(100).optional(),
    /**
     * For a criterion phrased as an absence ("No active infection in the last 2 weeks"): what the
     * card says when the record fails it ("Systemic active infection in the last 2 weeks").
     */
    failedLabel: z.string().min(1).max(100).optional(),
    /**
     * The UCUM unit the criterion's threshold is written in (`g/L` for "Hb ≥ 60 g/L"): a record
     * value in another unit of the same kind is shown converted to it as well.
     */
    unit: z.string().min(1).optional(),
    /**
     * A value the card computes from the criterion's evidence and shows with its inputs:
     * `cockcroft-gault` is the creatinine clearance from creatinine, weight, age and sex.
     */
    computed: z.literal('cockcroft-gault').optional(),
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

/** A caveat about one cohort of a multi-cohort trial. */
export const CaveatSchema = z
  .object({ text: z.string().min(1), cohort: z.string().min(1) })
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
    /**
     * When `npm run trials:refresh` last read the registry record (ISO 8601 UTC): the
     * registry metadata (title, status, phase, enrollment, sponsor, sites, contacts) is as of then.
     */
    refreshedAt: z.iso.datetime().optional(),
    sites: z.array(SiteSchema).default([]),
    contacts: z.array(ContactSchema).default([]),
    library: z
      .object({ name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), version: z.string().min(1) })
      .strict(),
    cohorts: z.array(CohortSchema).min(1),
    /**
     * Whether the protocol's eligibility criteria are published. When false (only registry
     * excerpts are known), a card never calls the trial a likely match and ranks it after the
     * trials whose criteria the record decided.
     */
    criteriaPublished: z.boolean().default(true),
    /**
     * What is known to be missing from the available trial text, shown with every result; a
     * caveat with a `cohort` is shown only while that cohort is still possible.
     */
    caveats: z.array(z.union([z.string().min(1), CaveatSchema])).default([]),
    criteria: z.array(CriterionSchema).min(1),
  })
  .strict()
  .superRefine((trial, ctx) => {
    const cohortIds = new Set(trial.cohorts.map((c) => c.id));
    const seen = new Set<string>();
    trial.caveats.forEach((caveat, index) => {
      if (typeof caveat !== 'string' && !cohortIds.has(caveat.cohort)) {
        ctx.addIssue({
          code: 'custom',
          path: ['caveats', index, 'cohort'],
          message: `unknown cohort ${caveat.cohort}`,
        });
      }
    });
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
export type Caveat = z.infer<typeof CaveatSchema>;
export type Trial = z.infer<typeof TrialSchema>;
