/**
 * Records in the shapes EHRs send (shared/reference/real-records.md; issue 12): each shape swapped
 * into the demo SLE patient who qualifies, read by the service from a realistic FHIR server (no
 * prefetch) and by the `screen` CLI from one Bundle; both must decide every criterion alike, and
 * the criterion the shape is about must come out as a clinician would read the record.
 */
import { baseRecord, find, PATIENT_ID, type Json } from '../fixtures/real-records/base-record.js';
import { realRecordHarness, type HarnessRun } from '../support/real-record-harness.js';
import type { RealisticServerOptions } from '../support/realistic-fhir-server.js';

const harness = realRecordHarness();

async function screen(
  record: Json[],
  server?: RealisticServerOptions,
  limits?: { maxPages?: number; maxResources?: number },
): Promise<HarnessRun> {
  const run = await harness.run(record, server, limits);
  expect(run.service).toEqual(run.cli);
  return run;
}

const SUBJECT = { reference: `Patient/${PATIENT_ID}` };

describe('real-world record shapes (issue 12)', () => {
  let baseline: HarnessRun;
  beforeAll(async () => {
    baseline = await harness.run(baseRecord());
  });

  it('decides the base record alike through the service and the CLI', () => {
    expect(baseline.service).toEqual(baseline.cli);
    expect(baseline.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    expect(baseline.service['NCT06892145//liver-enzymes']).toBe('pass');
  });

  describe('getting the record', () => {
    it('reads a drug named only by medicationReference to Medication/id (Epic, HAPI)', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: 'Medication/med-hcq' };
      record.push({ resourceType: 'Medication', id: 'med-hcq', code: concept });
      const run = await screen(record);
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('reads a drug named by a contained Medication (#id)', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.contained = [{ resourceType: 'Medication', id: 'm1', code: concept }];
      hcq.medicationReference = { reference: '#m1' };
      const run = await screen(record);
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('leaves criteria about a drug that cannot be resolved unknown, not failed', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: 'Medication/not-on-the-server' };
      const run = await screen(record);
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('unknown');
    });

    it('sees a result filed without a category (Oracle Health point of care)', async () => {
      const record = baseRecord();
      const hcg = find(record, 'observation-14');
      delete hcg.category;
      const run = await screen(record);
      expect(run.service['NCT06892145//negative-pregnancy-test']).toBe('pass');
    });

    it('sees a pregnancy status filed under social-history (US Core)', async () => {
      const record = baseRecord();
      record.splice(record.indexOf(find(record, 'observation-14')), 1);
      record.push({
        resourceType: 'Observation',
        id: 'preg-status',
        status: 'final',
        category: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/observation-category',
                code: 'social-history',
              },
            ],
          },
        ],
        code: { coding: [{ system: 'http://loinc.org', code: '82810-3' }] },
        subject: SUBJECT,
        effectiveDateTime: '2026-11-20T09:00:00Z',
        valueCodeableConcept: {
          coding: [{ system: 'http://snomed.info/sct', code: '77386006', display: 'Pregnant' }],
        },
      });
      const run = await screen(record);
      expect(run.service['NCT06892145//negative-pregnancy-test']).toBe('fail');
    });
  });
});
