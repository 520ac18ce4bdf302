import {
  describeEvidence,
  escapeMarkdown,
  indexResources,
  shortObservationName,
} from '../../src/cards/describe-evidence.js';
import {
  bundle,
  condition,
  medicationStatement,
  observation,
  patient,
} from '../support/fhir-builders.js';
import { toPatientBundle } from '../../src/fhir/patient-bundle.js';

describe('describeEvidence', () => {
  const hb = observation(
    { system: 'http://loinc.org', code: '718-7' },
    { quantity: 11.8, unit: 'g/dL' },
    { id: 'hb', date: '2026-11-18', high: { value: 16, unit: 'g/dL' } },
  );
  hb.code.coding![0]!.display = 'Hemoglobin [Mass/volume] in Blood';
  const older = { ...hb, id: 'hb-old', effectiveDateTime: '2026-01-02' };
  const ild = condition(
    { code: '233703007', display: 'Interstitial lung disease' },
    { id: 'ild', onset: '2024-02-03', clinicalStatus: 'resolved' },
  );
  const mtx = medicationStatement(
    { text: 'methotrexate 2.5 MG Oral Tablet' },
    { id: 'mtx', start: '2025-01-01', end: '2025-06-30', status: 'completed' },
  );
  const index = indexResources(bundle(patient({ id: 'p' }), hb, older, ild, mtx));

  it('shows short names, values, upper limits and dates, newest first', () => {
    expect(describeEvidence(['Observation/hb-old', 'Observation/hb'], index)).toEqual([
      'Hb 11.8 g/dL (ULN 16 g/dL), 2026-11-18',
      'Hb 11.8 g/dL (ULN 16 g/dL), 2026-01-02',
    ]);
  });

  it("shows the lab's abnormal flag with the value (issue 12)", () => {
    const alt = observation(
      { system: 'http://loinc.org', code: '1742-6' },
      { quantity: 130, unit: 'U/L' },
      { id: 'alt', date: '2026-11-18' },
    );
    alt.interpretation = [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
            code: 'H',
          },
        ],
      },
    ];
    const line = describeEvidence(['Observation/alt'], indexResources(bundle(patient(), alt)))[0];
    expect(line).toContain('(flagged H)');
  });

  it('names a value the record builder could not read (issue 12), without quoting it', () => {
    const odd = observation(
      { system: 'http://loinc.org', code: '718-7' },
      { quantity: 11.8, unit: 'blips/furlong' },
      { id: 'hb-odd', date: '2026-11-18' },
    );
    const built = toPatientBundle(bundle(patient({ id: 'p' }), odd));
    expect(describeEvidence(['Observation/hb-odd'], indexResources(built.bundle))).toEqual([
      'Hb value unreadable (a unit that is not UCUM), 2026-11-18',
    ]);
  });

  it('shows conditions with onset and status, medications with their period and status', () => {
    expect(describeEvidence(['Condition/ild', 'MedicationStatement/mtx'], index)).toEqual([
      'methotrexate 2.5 MG Oral Tablet, 2025-01-01 to 2025-06-30 (completed)',
      'Interstitial lung disease, onset 2024-02-03 (resolved)',
    ]);
  });

  it('never describes the Patient, and skips references not in the bundle', () => {
    expect(describeEvidence(['Patient/p', 'Observation/missing'], index)).toEqual([]);
  });

  it('shortens LOINC long names and escapes Markdown', () => {
    expect(shortObservationName('Oxygen saturation in Arterial blood by Pulse oximetry')).toBe(
      'Oxygen saturation',
    );
    expect(shortObservationName('Left ventricular Ejection fraction')).toBe(
      'Left ventricular Ejection fraction',
    );
    expect(escapeMarkdown('10*9/L [IU] <b>')).toBe('10\\*9/L \\[IU\\] \\<b\\>');
  });
});

describe('describeEvidence: any type a retrieve reads (issue 16 item 3)', () => {
  const procedure = {
    resourceType: 'Procedure' as const,
    id: 'proc',
    status: 'completed' as const,
    subject: { reference: 'Patient/pat-1' },
    code: {
      coding: [{ system: 'http://snomed.info/sct', code: '234319005', display: 'Splenectomy' }],
    },
    performedPeriod: { start: '2023-04-01T08:00:00Z', end: '2023-04-01T10:00:00Z' },
  };
  const immunization = {
    resourceType: 'Immunization' as const,
    id: 'imm',
    status: 'not-done' as const,
    patient: { reference: 'Patient/pat-1' },
    vaccineCode: { text: 'MMR vaccine' },
    occurrenceDateTime: '2026-10-01',
  };
  const undated = {
    resourceType: 'DeviceUseStatement' as const,
    id: 'dev',
    status: 'active' as const,
    subject: { reference: 'Patient/pat-1' },
    device: { reference: 'Device/d' },
  };
  const index = indexResources(bundle(patient(), procedure, immunization, undated));

  it('describes a type without a description of its own by its code text and date, newest first', () => {
    expect(
      describeEvidence(
        ['Procedure/proc', 'Immunization/imm', 'DeviceUseStatement/dev', 'Patient/pat-1'],
        index,
        5,
      ),
    ).toEqual([
      'MMR vaccine, 2026-10-01 (not-done)',
      'Splenectomy, 2023-04-01',
      'DeviceUseStatement',
    ]);
  });
});
