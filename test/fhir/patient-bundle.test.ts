import { toPatientBundle } from '../../src/fhir/patient-bundle.js';
import { bundle, observation, patient, sle, transactionBundle } from '../support/fhir-builders.js';

describe('toPatientBundle', () => {
  it('never changes its input, whether or not a resource needs normalising', () => {
    const odd = observation('751-8', { quantity: 2.1, unit: 'x10^9/L' });
    delete odd.valueQuantity?.system;
    delete odd.valueQuantity?.code;
    const input = transactionBundle(
      patient(),
      sle(),
      observation('718-7', { quantity: 11, unit: 'g/dL' }),
      odd,
    );
    const before = structuredClone(input);
    toPatientBundle(input);
    expect(input).toEqual(before);
    const plain = bundle(patient(), sle(), odd);
    const plainBefore = structuredClone(plain);
    toPatientBundle(plain);
    expect(plain).toEqual(plainBefore);
  });

  it('makes a non-UCUM unit UCUM in its copy and passes normal resources through', () => {
    const normal = observation('718-7', { quantity: 11, unit: 'g/dL' });
    const odd = observation('751-8', { quantity: 2.1, unit: 'x10^9/L' });
    delete odd.valueQuantity?.system;
    delete odd.valueQuantity?.code;
    const { bundle: out } = toPatientBundle(bundle(patient(), normal, odd));
    const resources = (out.entry ?? []).map((e) => e.resource);
    expect(resources).toContainEqual(normal);
    const converted = resources.find((r) => r?.id === odd.id);
    expect(converted).toMatchObject({
      valueQuantity: { value: 2.1, code: '10*9/L', system: 'http://unitsofmeasure.org' },
    });
  });

  it('rewrites urn:uuid references of a transaction Bundle to Type/id', () => {
    const input = transactionBundle(patient(), sle({ id: 'c1' }));
    const { bundle: out, patientId } = toPatientBundle(input);
    expect(input.entry?.[0]?.fullUrl).toBe(`urn:uuid:${patientId}`);
    const condition = out.entry?.find((e) => e.resource?.resourceType === 'Condition')?.resource;
    expect(condition).toMatchObject({ subject: { reference: `Patient/${patientId}` } });
  });
});

describe('toPatientBundle: records read in part (issue 12)', () => {
  const outcome = (diagnostics: string, severity = 'warning') => ({
    resourceType: 'OperationOutcome',
    issue: [{ severity, code: 'suppressed', diagnostics }],
  });
  const withEntries = (...resources: unknown[]) => ({
    resourceType: 'Bundle',
    type: 'collection',
    entry: resources.map((resource) => ({ resource })),
  });

  it('marks the types an OperationOutcome of severity warning names as withheld', () => {
    const built = toPatientBundle(
      withEntries(
        patient(),
        sle(),
        outcome('Client not authorized for Condition - Health Concerns'),
      ),
    );
    expect(built.partial).toEqual({ Condition: 'withheld' });
  });

  it('marks every type when the OperationOutcome names none, and none for information', () => {
    expect(
      Object.keys(toPatientBundle(withEntries(patient(), outcome('withheld'))).partial ?? {}),
    ).toContain('Observation');
    expect(
      toPatientBundle(withEntries(patient(), outcome('Condition', 'information'))).partial,
    ).toBeUndefined();
  });

  it('resolves an absolute medicationReference through the fullUrls the reader saw, else marks it', () => {
    const request = {
      resourceType: 'MedicationRequest',
      id: 'mr',
      status: 'active',
      intent: 'order',
      subject: { reference: 'https://ehr.example/fhir/Patient/p' },
      medicationReference: { reference: 'https://ehr.example/fhir/Medication/m1' },
    };
    const medication = {
      resourceType: 'Medication',
      id: 'm1',
      code: { text: 'hydroxychloroquine sulfate 200 MG Oral Tablet' },
    };
    const fullUrls = new Map([
      ['https://ehr.example/fhir/Medication/m1', 'Medication/m1'],
      ['https://ehr.example/fhir/Patient/p', 'Patient/p'],
    ]);
    const built = toPatientBundle(
      withEntries(patient({ id: 'p' }), request, medication),
      undefined,
      {
        fullUrls,
      },
    );
    const resolved = built.bundle.entry?.find((e) => e.resource?.id === 'mr')?.resource as
      { medicationCodeableConcept?: { text?: string } } | undefined;
    expect(resolved?.medicationCodeableConcept?.text).toBe(
      'hydroxychloroquine sulfate 200 MG Oral Tablet',
    );
    expect(built.partial).toBeUndefined();
    const unresolved = toPatientBundle(withEntries(patient({ id: 'p' }), request), undefined, {
      fullUrls,
    });
    expect(unresolved.partial).toEqual({ MedicationRequest: 'unresolved-medication' });
  });
});

describe('toPatientBundle: the types the engine reads come from its reads (issue 16 item 3)', () => {
  const immunization = {
    resourceType: 'Immunization',
    id: 'imm',
    status: 'completed',
    patient: { reference: 'Patient/pat-1' },
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '03' }] },
    occurrenceDateTime: '2026-10-01',
  };
  const encounter = {
    resourceType: 'Encounter',
    id: 'enc',
    status: 'finished',
    subject: { reference: 'Patient/pat-1' },
  };
  /** A reads that keeps Immunizations, as RetrieveScope.reader() does when a retrieve names them. */
  const reads = Object.assign((r: { resourceType: string }) => r.resourceType === 'Immunization', {
    types: ['Patient', 'Immunization'],
  });
  const input = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [patient(), immunization, encounter].map((resource) => ({ resource })),
  };

  it('keeps a type no fixed list names when the engine reads it, and only what it reads', () => {
    const types = toPatientBundle(input, reads).bundle.entry?.map((e) => e.resource?.resourceType);
    expect(types).toEqual(['Patient', 'Immunization']);
    // Without the engine's reads, the project's own types only.
    expect(toPatientBundle(input).bundle.entry?.map((e) => e.resource?.resourceType)).toEqual([
      'Patient',
    ]);
  });

  it('marks the types the engine reads partial when an OperationOutcome withholds data', () => {
    const withheld = {
      ...input,
      entry: [
        ...input.entry,
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'warning', code: 'suppressed', diagnostics: 'withheld' }],
          },
        },
      ],
    };
    expect(toPatientBundle(withheld, reads).partial).toEqual({ Immunization: 'withheld' });
    const named = {
      ...input,
      entry: [
        ...input.entry,
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [
              { severity: 'warning', code: 'suppressed', diagnostics: 'no access to Immunization' },
            ],
          },
        },
      ],
    };
    expect(toPatientBundle(named, reads).partial).toEqual({ Immunization: 'withheld' });
  });
});
