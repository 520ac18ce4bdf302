/**
 * Property-based tests (fast-check), issue 5: generated hook requests and FHIR resources never
 * crash the service, never give an unexpected 5xx, and give the same answer for the same input.
 * Thousands of runs where only parsing and validation run; a few where the real CQL engine runs.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { resolvePrefetch } from '../../src/cds-hooks/prefetch.js';
import { parsePatientViewRequest } from '../../src/cds-hooks/request.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { toPatientBundle } from '../../src/fhir/patient-bundle.js';
import { AppError } from '../../src/shared/errors.js';
import { MemoryDataSource, makeDeps, SERVICE, PREFETCH_KEYS } from '../support/http-deps.js';
import { AS_OF } from '../support/fhir-builders.js';

const PATIENT_ID = 'prop-patient';
const RESOURCE_TYPES = [
  'Patient',
  'Condition',
  'Observation',
  'MedicationRequest',
  'MedicationStatement',
  'Medication',
  'OperationOutcome',
  'Bundle',
  'Encounter',
];
const CODE_SYSTEMS = [
  'http://snomed.info/sct',
  'http://loinc.org',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://www.nlm.nih.gov/research/umls/rxnorm',
  'urn:x',
];
// Codes the trials look at (SLE, SSc, lupus nephritis, labs), so generated records reach the CQL.
const CODES = [
  '55464009',
  '89155008',
  '68815009',
  'M32.14',
  'M32.9',
  'M34.0',
  '2160-0',
  '33914-3',
  '718-7',
  '26464-8',
  '777-3',
  '2093-3',
  '29463-7',
  '8302-2',
  '12345',
];

const uuid = fc.uuid({ version: 4 });
const id = fc.stringMatching(/^[A-Za-z0-9\-.]{1,20}$/);
const date = fc
  .integer({ min: -40_000, max: 3650 })
  .map((d) => new Date(Date.UTC(2026, 10, 22) - d * 86_400_000).toISOString().slice(0, 10));

const codeable = fc.record(
  {
    coding: fc.array(
      fc.record(
        {
          system: fc.constantFrom(...CODE_SYSTEMS),
          code: fc.constantFrom(...CODES),
          display: fc.string({ maxLength: 20 }),
        },
        { requiredKeys: ['system', 'code'] },
      ),
      { maxLength: 3 },
    ),
    text: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: [] },
);

const quantity = fc.record(
  {
    value: fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.integer()),
    unit: fc.constantFrom('mg/dL', 'g/L', 'mL/min/1.73m2', '%', 'kg', 'umol/L', '{score}', 'x'),
    system: fc.constant('http://unitsofmeasure.org'),
    code: fc.constantFrom('mg/dL', 'g/L', '%', 'kg', 'umol/L'),
  },
  { requiredKeys: ['value'] },
);

/** FHIR-shaped resources of one patient, mostly valid, some odd. */
const resource = fc.oneof(
  fc.record(
    {
      resourceType: fc.constant('Condition'),
      id,
      subject: fc.constant({ reference: `Patient/${PATIENT_ID}` }),
      code: codeable,
      onsetDateTime: date,
      recordedDate: date,
      clinicalStatus: fc.constant({
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' },
        ],
      }),
    },
    { requiredKeys: ['resourceType', 'id'] },
  ),
  fc.record(
    {
      resourceType: fc.constant('Observation'),
      id,
      status: fc.constantFrom('final', 'amended', 'preliminary', 'entered-in-error', 'weird'),
      subject: fc.constant({ reference: `Patient/${PATIENT_ID}` }),
      code: codeable,
      category: fc.constant([
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/observation-category',
              code: 'laboratory',
            },
          ],
        },
      ]),
      effectiveDateTime: date,
      valueQuantity: quantity,
      valueString: fc.string({ maxLength: 10 }),
    },
    { requiredKeys: ['resourceType', 'id'] },
  ),
  fc.record(
    {
      resourceType: fc.constantFrom('MedicationRequest', 'MedicationStatement'),
      id,
      status: fc.constantFrom('active', 'completed', 'stopped'),
      subject: fc.constant({ reference: `Patient/${PATIENT_ID}` }),
      medicationCodeableConcept: codeable,
      authoredOn: date,
    },
    { requiredKeys: ['resourceType', 'id'] },
  ),
  fc.record(
    { resourceType: fc.constantFrom(...RESOURCE_TYPES), id, extra: fc.jsonValue({ maxDepth: 3 }) },
    { requiredKeys: ['resourceType'] },
  ),
);

const patient = fc.record(
  {
    resourceType: fc.constant('Patient'),
    id: fc.constant(PATIENT_ID),
    gender: fc.constantFrom('female', 'male', 'other', 'unknown'),
    birthDate: date,
  },
  { requiredKeys: ['resourceType', 'id'] },
);

const searchset = (resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((r) => ({ resource: r })),
});

/** A prefetch: each key absent, null, or a Bundle of generated resources. */
const prefetch = fc
  .tuple(
    patient,
    fc.array(fc.option(fc.array(resource, { maxLength: 6 }), { nil: null }), {
      minLength: PREFETCH_KEYS.length,
      maxLength: PREFETCH_KEYS.length,
    }),
  )
  .map(([p, values]) =>
    Object.fromEntries(
      PREFETCH_KEYS.map((key, i) => [
        key,
        key === 'patient' ? p : values[i] === null ? null : searchset(values[i] as unknown[]),
      ]),
    ),
  );

const validRequest = fc.record({
  hook: fc.constant('patient-view'),
  hookInstance: uuid,
  context: fc.record({
    userId: fc.constant('Practitioner/example'),
    patientId: fc.constant(PATIENT_ID),
  }),
  prefetch,
});

/** Anything a client might send: valid requests, each field broken, or arbitrary JSON. */
const anyRequest = fc.oneof(
  validRequest,
  fc
    .tuple(
      validRequest,
      fc.constantFrom(
        'hook',
        'hookInstance',
        'context',
        'prefetch',
        'fhirServer',
        'fhirAuthorization',
        'extension',
      ),
      fc.jsonValue({ maxDepth: 4 }),
    )
    .map(([r, key, value]) => ({ ...r, [key]: value })),
  fc
    .tuple(
      validRequest,
      fc.constantFrom('userId', 'patientId', 'encounterId'),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([r, key, value]) => ({ ...r, context: { ...r.context, [key]: value } })),
  fc
    .tuple(validRequest, fc.constantFrom(...PREFETCH_KEYS), fc.jsonValue({ maxDepth: 5 }))
    .map(([r, key, value]) => ({ ...r, prefetch: { ...r.prefetch, [key]: value } })),
  fc.jsonValue({ maxDepth: 5 }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
);

function outcomeOf(fn: () => unknown): unknown {
  try {
    return { ok: fn() };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { kind: error.kind, message: error.message };
  }
}

describe('generated hook requests (parsing and validation only)', () => {
  it('parsePatientViewRequest returns or throws an AppError, the same for the same input', () => {
    fc.assert(
      fc.property(anyRequest, (body) => {
        const first = outcomeOf(() => parsePatientViewRequest(body, 'patient-view'));
        expect(outcomeOf(() => parsePatientViewRequest(body, 'patient-view'))).toEqual(first);
      }),
      { numRuns: 3000 },
    );
  });

  it('prefetch resolution and the patient bundle accept or refuse generated resources, never crash', async () => {
    const dataSource = new MemoryDataSource();
    await fc.assert(
      fc.asyncProperty(validRequest, async (body) => {
        const parsed = parsePatientViewRequest(body, 'patient-view');
        const run = async () => {
          try {
            const resolved = await resolvePrefetch(SERVICE, parsed, dataSource);
            const bundle = toPatientBundle({
              resourceType: 'Bundle',
              type: 'collection',
              entry: resolved.resources.map((r) => ({ resource: r })),
            });
            return { count: bundle.bundle.entry?.length ?? 0, notes: bundle.notes.length };
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            return { kind: error.kind };
          }
        };
        expect(await run()).toEqual(await run());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('generated hook requests over HTTP (fake engine)', () => {
  it('never answer 5xx', async () => {
    // One listening server for every run (supertest would start one per request).
    const server = createServer(
      createApp(makeDeps({ config: { corsOrigins: [], bodyLimit: '1mb' } })),
    ).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await fc.assert(
        fc.asyncProperty(anyRequest, async (body) => {
          const res = await request(server)
            .post('/cds-services/trial-matcher')
            .send(body === undefined ? '' : JSON.stringify(body))
            .set('Content-Type', 'application/json');
          expect([200, 400, 412, 413]).toContain(res.status);
        }),
        { numRuns: 600 },
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('generated patient records through the real CQL engine', () => {
  const engine = loadEligibilityEngine();
  it('answer 200 (or a defined 400) with the same trials for the same record', async () => {
    let n = 0;
    const app = createApp(
      makeDeps({
        engine,
        today: () => AS_OF,
        newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
        config: { corsOrigins: [], bodyLimit: '1mb' },
      }),
    );
    const trialsOf = (cards: { source?: unknown }[]) =>
      cards.map((c) => JSON.stringify(c.source)).sort();
    await fc.assert(
      fc.asyncProperty(validRequest, async (body) => {
        const first = await request(app).post('/cds-services/trial-matcher').send(body);
        const second = await request(app).post('/cds-services/trial-matcher').send(body);
        // 200, or a defined 400 (say, a second Patient that is not context.patientId).
        expect([200, 400]).toContain(first.status);
        expect(second.status).toBe(first.status);
        if (first.status !== 200) return;
        const [a, b] = [first.body, second.body] as {
          cards: { source?: unknown; summary: string }[];
        }[];
        expect(trialsOf(b?.cards ?? [])).toEqual(trialsOf(a?.cards ?? []));
        expect(b?.cards.map((c) => c.summary).sort()).toEqual(
          a?.cards.map((c) => c.summary).sort(),
        );
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
