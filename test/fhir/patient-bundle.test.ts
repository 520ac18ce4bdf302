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
