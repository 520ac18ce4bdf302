import { z } from 'zod';
import { findTooDeep } from '../security/json-limits.js';
import { quoteUntrusted } from '../shared/untrusted-text.js';
import { InvalidRequestError } from '../shared/errors.js';

/**
 * The CDS Hooks 2.0.1 service request, parsed once at the HTTP boundary.
 * {@link https://cds-hooks.hl7.org/2.0/#http-request}
 */

/**
 * A FHIR id (`[A-Za-z0-9\-.]{1,64}`), but never only dots: `.` and `..` are path segments, and
 * `Patient/..` would read the server's root (issue 15 item 13).
 */
const FHIR_ID = /^(?!\.+$)[A-Za-z0-9\-.]{1,64}$/;
const FhirIdSchema = z.string().regex(FHIR_ID, 'a FHIR id (not only dots)');

/** {@link https://cds-hooks.hl7.org/2.0/#passing-the-access-token-to-the-cds-service} */
export const FhirAuthorizationSchema = z.object({
  access_token: z.string().min(1),
  // The spec fixes "Bearer"; some clients write it in lower case.
  token_type: z.string().regex(/^bearer$/i, 'must be "Bearer"'),
  expires_in: z.number().int().nonnegative(),
  scope: z.string().min(1),
  subject: z.string().min(1),
  patient: FhirIdSchema.optional(),
});

export const CdsRequestSchema = z
  .object({
    hook: z.string().min(1),
    hookInstance: z.uuid(),
    fhirServer: z.url({ protocol: /^https?$/ }).optional(),
    fhirAuthorization: FhirAuthorizationSchema.optional(),
    context: z.record(z.string(), z.unknown()),
    prefetch: z.record(z.string(), z.unknown()).optional(),
    extension: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => r.fhirAuthorization === undefined || r.fhirServer !== undefined, {
    message: 'fhirServer is required when fhirAuthorization is present',
    path: ['fhirServer'],
  });

/** patient-view context: {@link https://cds-hooks.org/hooks/patient-view/} */
export const PatientViewContextSchema = z.object({
  userId: z
    .string()
    .regex(
      /^(Practitioner|PractitionerRole|Patient|RelatedPerson)\/(?!\.+$)[A-Za-z0-9\-.]{1,64}$/,
      'a reference such as Practitioner/123',
    ),
  patientId: FhirIdSchema,
  encounterId: FhirIdSchema.optional(),
});

export type FhirAuthorization = z.infer<typeof FhirAuthorizationSchema>;
export type PatientViewContext = z.infer<typeof PatientViewContextSchema>;

/** A validated patient-view request: what flows on from the HTTP adapter. */
export interface PatientViewRequest {
  readonly hook: 'patient-view';
  readonly hookInstance: string;
  readonly fhirServer?: string;
  readonly fhirAuthorization?: FhirAuthorization;
  readonly context: PatientViewContext;
  /** Keys the client sent; a `null` value means "no data". */
  readonly prefetch: Readonly<Record<string, unknown>>;
}

/** A path element as a message may show it: a key the client chose is bounded in length. */
function pathPart(part: PropertyKey): string {
  const text = String(part);
  return text.length <= 64 ? text : quoteUntrusted(text);
}

function toInvalidRequest(error: z.ZodError, prefix: readonly PropertyKey[]): InvalidRequestError {
  const expression = error.issues.map(
    (issue) => [...prefix, ...issue.path].map(pathPart).join('.') || '(body)',
  );
  const details = error.issues
    .map((issue) => {
      const where = [...prefix, ...issue.path].map(pathPart).join('.');
      return where === '' ? issue.message : `${where}: ${issue.message}`;
    })
    .join('; ');
  return new InvalidRequestError(`invalid hook request: ${details}`, {
    expression: [...new Set(expression)],
  });
}

/**
 * Validates a hook request for a service of the given hook.
 * @param body - the parsed JSON body.
 * @param expectedHook - the hook the called service is registered for.
 * @throws InvalidRequestError (400) naming the bad fields.
 */
export function parsePatientViewRequest(body: unknown, expectedHook: string): PatientViewRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidRequestError('the request body must be a JSON object', {
      expression: ['(body)'],
    });
  // Bounded nesting before anything walks the value (the body size is bounded by BODY_LIMIT).
  const deep = findTooDeep(body);
  if (deep !== undefined)
    throw new InvalidRequestError('the request body is nested too deeply', {
      expression: [deep.split(/[.[]/)[0] || '(body)'],
    });
  const base = CdsRequestSchema.safeParse(body);
  if (!base.success) throw toInvalidRequest(base.error, []);
  if (base.data.hook !== expectedHook || expectedHook !== 'patient-view')
    throw new InvalidRequestError(
      `this service answers the ${expectedHook} hook, not ${quoteUntrusted(base.data.hook)}`,
      { expression: ['hook'] },
    );
  const context = PatientViewContextSchema.safeParse(base.data.context);
  if (!context.success) throw toInvalidRequest(context.error, ['context']);
  const { fhirServer, fhirAuthorization } = base.data;
  return {
    hook: 'patient-view',
    hookInstance: base.data.hookInstance,
    ...(fhirServer !== undefined ? { fhirServer } : {}),
    ...(fhirAuthorization !== undefined ? { fhirAuthorization } : {}),
    context: context.data,
    prefetch: base.data.prefetch ?? {},
  };
}
