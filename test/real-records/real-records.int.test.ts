/**
 * Records in the shapes EHRs send (shared/reference/real-records.md; issue 12): each shape swapped
 * into the demo SLE patient who qualifies, read by the service from a realistic FHIR server (no
 * prefetch) and by the `screen` CLI from one Bundle; both must decide every criterion alike, and
 * the criterion the shape is about must come out as a clinician would read the record.
 */
import { baseRecord, find, PATIENT_ID, type Json } from '../fixtures/real-records/base-record.js';
import { realRecordHarness, type HarnessRun } from '../support/real-record-harness.js';
import {
  startRealisticFhirServer,
  type RealisticServerOptions,
} from '../support/realistic-fhir-server.js';
import { fhirServerItems } from '../../src/population/fhir-server-input.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { loadFetchPlan } from '../../src/engine/load-engine.js';
import { toPatientBundle } from '../../src/fhir/patient-bundle.js';

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

    it('resolves an absolute medicationReference through the fullUrl of an included Medication', async () => {
      const publicBase = 'https://ehr.example.org/fhir';
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: `${publicBase}/Medication/med-hcq` };
      record.push({ resourceType: 'Medication', id: 'med-hcq', code: concept });
      const run = await screen(record, { publicBase });
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('reads a referenced Medication the server did not include (no _include support)', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: 'Medication/med-hcq' };
      record.push({ resourceType: 'Medication', id: 'med-hcq', code: concept });
      // A server that refuses _sort is asked again without _sort, _count and _include.
      const run = await screen(record, { refusesSort: true });
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('reads an infusion recorded only as a MedicationAdministration (IV rituximab)', async () => {
      const record = baseRecord();
      record.push(
        {
          resourceType: 'Medication',
          id: 'med-rtx',
          code: { coding: [{ system: RXNORM, code: '121191', display: 'rituximab' }] },
        },
        {
          resourceType: 'MedicationAdministration',
          id: 'rtx-1',
          status: 'completed',
          medicationReference: { reference: 'Medication/med-rtx' },
          subject: SUBJECT,
          effectiveDateTime: '2025-03-10T10:00:00Z',
          dosage: { route: { text: 'IV' }, dose: { value: 1000, unit: 'mg' } },
        },
      );
      expect(baseline.service['NCT06513429//prior-biologic']).toBe('fail');
      const run = await screen(record);
      expect(run.service['NCT06513429//prior-biologic']).toBe('pass');
    });

    it('reads IV cyclophosphamide given only as MedicationAdministration, and a drug only dispensed', async () => {
      const record = baseRecord();
      // Mycophenolate and hydroxychloroquine orders left out: only the inpatient and pharmacy records.
      record.splice(record.indexOf(find(record, 'medicationrequest-22')), 1);
      record.splice(record.indexOf(find(record, 'medicationrequest-23')), 1);
      record.push(
        {
          resourceType: 'Medication',
          id: 'med-cyc',
          code: { coding: [{ system: RXNORM, code: '3002', display: 'cyclophosphamide' }] },
        },
        {
          resourceType: 'MedicationAdministration',
          id: 'cyc-1',
          status: 'completed',
          medicationReference: { reference: 'Medication/med-cyc' },
          subject: SUBJECT,
          effectivePeriod: { start: '2025-06-02T09:00:00Z', end: '2025-06-02T11:00:00Z' },
          dosage: { route: { text: 'IV' }, dose: { value: 750, unit: 'mg' } },
        },
        {
          resourceType: 'MedicationDispense',
          id: 'hcq-dispense',
          status: 'completed',
          medicationCodeableConcept: {
            coding: [
              {
                system: RXNORM,
                code: '979092',
                display: 'hydroxychloroquine sulfate 200 MG Oral Tablet',
              },
            ],
            text: 'hydroxychloroquine sulfate 200 MG Oral Tablet',
          },
          subject: SUBJECT,
          whenHandedOver: '2024-01-10T10:00:00Z',
          quantity: { value: 60 },
          daysSupply: { value: 30, unit: 'd' },
        },
      );
      const run = await screen(record);
      expect(run.service['NCT06513429//prior-immunosuppressant']).toBe('pass');
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('follows HAPI _getpages and Oracle -pageContext links over a long, oldest-first history', async () => {
      const record = [...baseRecord(), ...oldHemoglobins(230)];
      for (const paging of ['hapi', 'oracle'] as const) {
        const run = await screen(record, { paging });
        expect(run.service['NCT06892145//liver-enzymes']).toBe('pass');
        expect(run.service['NCT06822881/sle/hemoglobin']).toBe('pass');
      }
    });

    it('leaves criteria that read a type unknown when its search is cut at FHIR_MAX_PAGES', async () => {
      const record = [...baseRecord(), ...oldHemoglobins(230)];
      const cut = await harness.run(record, {}, { maxPages: 2 });
      // The CLI reads the whole Bundle: only the service is cut short.
      expect(cut.service['NCT06822881/sle/hemoglobin']).toBe('unknown');
      expect(cut.service['NCT06892145//liver-enzymes']).toBe('unknown');
      expect(cut.cli['NCT06892145//liver-enzymes']).toBe('pass');
      const hemoglobin = cut.screening.trials
        .find((t) => t.id === 'NCT06822881')
        ?.criteria.find((c) => c.id === 'hemoglobin');
      expect(hemoglobin?.partialRecord).toEqual([{ type: 'Observation', reason: 'too-long' }]);
      // Criteria that read no Observation are decided as before.
      expect(cut.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('leaves criteria that read a type unknown when the EHR withheld part of it (Epic OperationOutcome)', async () => {
      const withheld = {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'warning',
            code: 'suppressed',
            diagnostics:
              'Client not authorized for Condition - Health Concerns. Results of this sub-type will not be returned.',
          },
        ],
      };
      const record = [...baseRecord(), withheld];
      const run = await screen(record, { outcomes: { Condition: withheld } });
      expect(run.service['NCT06892145//sle-diagnosis']).toBe('unknown');
      expect(run.service['NCT06822881//no-active-infection']).toBe('unknown');
      expect(run.service['NCT06892145//liver-enzymes']).toBe('pass');
    });

    it('decides alike when an information-only OperationOutcome rides along', async () => {
      const info = {
        resourceType: 'OperationOutcome',
        issue: [
          { severity: 'information', code: 'informational', diagnostics: 'Condition search' },
        ],
      };
      const run = await screen([...baseRecord(), info], { outcomes: { Condition: info } });
      expect(run.service).toEqual(baseline.service);
    });
  });

  describe('values as labs write them', () => {
    it('reads an ANC in K/uL (no UCUM code) as thousands per microlitre, not kelvin', async () => {
      const record = baseRecord();
      find(record, 'observation-4').valueQuantity = { value: 3.4, unit: 'K/uL' };
      const run = await screen(record);
      expect(run.service['NCT06822881/sle/anc']).toBe('pass');
    });

    it('fails "ALT at most 3 x ULN" on ">1000 U/L" (valueQuantity.comparator)', async () => {
      const record = baseRecord();
      find(record, 'observation-7').valueQuantity = {
        value: 1000,
        comparator: '>',
        unit: 'U/L',
        system: 'http://unitsofmeasure.org',
        code: 'U/L',
      };
      const run = await screen(record);
      expect(run.service['NCT06892145//liver-enzymes']).toBe('fail');
    });

    it('passes "bilirubin at most 2 x ULN" on a valueString "<0.5 mg/dL"', async () => {
      const record = baseRecord();
      const bilirubin = find(record, 'observation-9');
      delete bilirubin.valueQuantity;
      bilirubin.valueString = '<0.5 mg/dL';
      const run = await screen(record);
      expect(run.service['NCT06892145//bilirubin']).toBe('pass');
    });

    it('leaves "at most 2 x ULN" unknown on "<5.0" when 5.0 is past the limit', async () => {
      const record = baseRecord();
      const bilirubin = find(record, 'observation-9');
      bilirubin.valueQuantity = { value: 5, comparator: '<', unit: 'mg/dL' };
      const run = await screen(record);
      expect(run.service['NCT06892145//bilirubin']).toBe('unknown');
    });

    it('uses a text-only reference range ("<=9") as the lab\'s ULN', async () => {
      const record = baseRecord();
      const alt = find(record, 'observation-7');
      alt.valueQuantity = { value: 24, unit: 'U/L' };
      // 24 U/L is 0.6 x the default ULN of 40 but 2.7 x the lab's 9: not at most 2 x ULN.
      alt.referenceRange = [{ text: '<=9' }];
      const run = await screen(record);
      expect(run.service['NCT06822881/sle/liver-enzymes']).toBe('fail');
      expect(run.service['NCT06892145//liver-enzymes']).toBe('pass');
    });

    it('reads an ANA titre with its pattern in valueString ("1:320 Homogeneous")', async () => {
      const record = baseRecord();
      const ana = find(record, 'observation-17');
      delete ana.valueCodeableConcept;
      delete ana.interpretation;
      ana.valueString = '1:320 Homogeneous';
      // Without dsDNA, the ANA alone decides.
      record.splice(record.indexOf(find(record, 'observation-18')), 1);
      const run = await screen(record);
      expect(run.service['NCT06892145//autoantibody-positive']).toBe('pass');
    });

    it('reads a qualitative serum hCG written "NEGATIVE" in valueString (2118-8)', async () => {
      const record = baseRecord();
      const hcg = find(record, 'observation-14');
      delete hcg.valueQuantity;
      hcg.code = { coding: [{ system: 'http://loinc.org', code: '2118-8' }] };
      hcg.valueString = 'NEGATIVE';
      const run = await screen(record);
      expect(run.service['NCT06892145//negative-pregnancy-test']).toBe('pass');
    });

    it('reads a coded answer with only a LOINC answer code (LA6576-8 Positive)', async () => {
      const record = baseRecord();
      const hcg = find(record, 'observation-14');
      delete hcg.valueQuantity;
      hcg.code = { coding: [{ system: 'http://loinc.org', code: '2118-8' }] };
      hcg.valueCodeableConcept = { coding: [{ system: 'http://loinc.org', code: 'LA6576-8' }] };
      const run = await screen(record);
      expect(run.service['NCT06892145//negative-pregnancy-test']).toBe('fail');
    });
  });

  describe('conditions as EHRs keep them', () => {
    const pneumonia = (overrides: Json): Json => ({
      resourceType: 'Condition',
      id: 'pneumonia',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/condition-category',
              code: 'encounter-diagnosis',
            },
          ],
        },
      ],
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J18.9' }] },
      subject: SUBJECT,
      ...overrides,
    });

    it('does not take an encounter diagnosis of pneumonia two years ago, still "active", for an active infection (Oracle Health)', async () => {
      const record = [
        ...baseRecord(),
        pneumonia({
          clinicalStatus: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
                code: 'active',
              },
            ],
          },
          onsetDateTime: '2024-10-02',
          recordedDate: '2024-10-02',
        }),
      ];
      const run = await screen(record);
      expect(run.service['NCT06822881//no-active-infection']).toBe('pass');
    });

    it('takes an encounter diagnosis of pneumonia without clinicalStatus last week for an active infection (US Core)', async () => {
      const record = [...baseRecord(), pneumonia({ recordedDate: '2026-11-16' })];
      const run = await screen(record);
      expect(run.service['NCT06822881//no-active-infection']).toBe('fail');
    });

    it('takes SLE without verificationStatus (US Core example) as diagnosed', async () => {
      const record = withoutNephritis();
      delete find(record, 'condition-2').verificationStatus;
      delete find(record, 'condition-2').clinicalStatus;
      const run = await screen(record);
      expect(run.service['NCT06892145//sle-diagnosis']).toBe('pass');
    });

    it('leaves the SLE diagnosis to a clinician when SLE is only provisional', async () => {
      // Lupus nephritis (a confirmed SLE code too) left out: SLE rests on the provisional one.
      const record = withoutNephritis();
      find(record, 'condition-2').verificationStatus = {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
            code: 'provisional',
          },
        ],
      };
      const run = await screen(record);
      expect(run.service['NCT06892145//sle-diagnosis']).toBe('unknown');
      expect(run.service['NCT06822881/sle/sle-6-months']).toBe('unknown');
    });

    it('does not count SLE with an onset after the screening date as history', async () => {
      const record = withoutNephritis();
      const sle = find(record, 'condition-2');
      sle.onsetDateTime = '2026-12-15';
      delete sle.recordedDate;
      const run = await screen(record);
      expect(run.service['NCT06892145//sle-diagnosis']).toBe('fail');
    });
  });

  describe('screen --fhir-server (the population reader) on the same server', () => {
    it('reads by the same fetch plan and decides as the service does', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: 'Medication/med-hcq' };
      record.push({ resourceType: 'Medication', id: 'med-hcq', code: concept });
      delete find(record, 'observation-14').category;
      const run = await screen(record);
      expect(await harness.population(record, { paging: 'oracle' })).toEqual(run.service);
    });

    it("resolves an absolute medicationReference through the searchsets' fullUrls", async () => {
      const publicBase = 'https://ehr.example.org/fhir';
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      const concept = hcq.medicationCodeableConcept;
      delete hcq.medicationCodeableConcept;
      hcq.medicationReference = { reference: `${publicBase}/Medication/med-hcq` };
      record.push({ resourceType: 'Medication', id: 'med-hcq', code: concept });
      const statuses = await harness.population(record, { publicBase });
      expect(statuses['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('marks a type partial when its search has more pages than the reader reads', async () => {
      const server = await startRealisticFhirServer();
      server.load([...baseRecord(), ...oldHemoglobins(150)]);
      const reader = new FhirKitDataSource({ timeoutMs: 5000, maxPages: 1 });
      try {
        const items = fhirServerItems({ baseUrl: server.base, reader, plan: loadFetchPlan() });
        let loaded: unknown;
        for await (const item of items)
          if (item.kind === 'record') loaded = await item.load(new AbortController().signal);
        expect(toPatientBundle(loaded).partial).toEqual({ Observation: 'too-long' });
      } finally {
        await reader.close();
        await server.close();
      }
    });

    it('leaves criteria unknown when the server withheld part of a type', async () => {
      const withheld = {
        resourceType: 'OperationOutcome',
        issue: [
          { severity: 'warning', code: 'suppressed', diagnostics: 'Health Concerns withheld' },
        ],
      };
      const statuses = await harness.population(baseRecord(), {
        outcomes: { Condition: withheld },
      });
      expect(statuses['NCT06892145//sle-diagnosis']).toBe('unknown');
      expect(statuses['NCT06892145//liver-enzymes']).toBe('pass');
    });
  });

  describe('medication histories and other shapes', () => {
    it('reads a dose frequency given only as a GTS timing code (BID)', async () => {
      const record = baseRecord();
      const prednisone = find(record, 'medicationrequest-21');
      prednisone.dosageInstruction = [
        {
          timing: {
            code: {
              coding: [
                { system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation', code: 'BID' },
              ],
            },
          },
          doseAndRate: [{ doseQuantity: { value: 20, unit: 'mg' } }],
        },
      ];
      const run = await screen(record);
      // 20 mg twice a day is 40 mg a day: above 30.
      expect(run.service['NCT06513429//steroid-max-30-mg']).toBe('fail');
    });

    it('does not count a drug recorded as not given (doNotPerform)', async () => {
      const record = baseRecord();
      find(record, 'medicationrequest-23').doNotPerform = true;
      const run = await screen(record);
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('fail');
    });

    it('counts a patient-reported medication (Oracle Health intent=plan, reportedBoolean)', async () => {
      const record = baseRecord();
      const hcq = find(record, 'medicationrequest-23');
      hcq.intent = 'plan';
      hcq.reportedBoolean = true;
      const run = await screen(record);
      expect(run.service['NCT06892145//prior-hydroxychloroquine']).toBe('pass');
    });

    it('does not read an SpO2 measured on supplemental oxygen as on room air (US Core pulse oximetry)', async () => {
      const record = baseRecord();
      find(record, 'observation-16').component = [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '3151-8' }] },
          valueQuantity: {
            value: 2,
            unit: 'L/min',
            system: 'http://unitsofmeasure.org',
            code: 'L/min',
          },
        },
      ];
      const run = await screen(record);
      expect(run.service['NCT06892145//spo2']).toBe('unknown');
    });

    it("never decides from another patient's resource in the search (a server ignoring ?patient=)", async () => {
      const record = baseRecord();
      record.push({
        resourceType: 'Condition',
        id: 'other-tb',
        clinicalStatus: { coding: [{ code: 'active' }] },
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'A15.0' }] },
        subject: { reference: 'Patient/someone-else' },
        recordedDate: '2026-11-20',
      });
      // The realistic server filters by patient; the CLI's Bundle holds the foreign resource.
      const run = await screen(record);
      expect(run.service['NCT06822881//no-active-infection']).toBe('pass');
    });
  });
});

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

function withoutNephritis(): Json[] {
  const record = baseRecord();
  record.splice(record.indexOf(find(record, 'condition-3')), 1);
  return record;
}

/** Hemoglobin results years old, one a week: a long history, read oldest first. */
function oldHemoglobins(n: number): Json[] {
  return Array.from({ length: n }, (_, i) => ({
    resourceType: 'Observation',
    id: `old-hgb-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    effectiveDateTime: new Date(Date.UTC(2018, 0, 1) + i * 7 * 86_400_000).toISOString(),
    valueQuantity: { value: 12, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
  }));
}
