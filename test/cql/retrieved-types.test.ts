import { checkRetrievedTypes, patientElementsOf } from '../../src/cql/retrieved-types.js';
import { ConfigurationError } from '../../src/shared/errors.js';

describe('checkRetrievedTypes: start-up fails when a reader would drop a retrieved type (issue 16 item 3)', () => {
  it('accepts the types the record readers attribute to the patient, any of them', () => {
    expect(() => {
      checkRetrievedTypes([
        { library: 'A', type: 'Patient' },
        { library: 'A', type: 'Procedure' },
        { library: 'A', type: 'Immunization' },
        { library: 'A', type: 'Observation', codes: new Set(['http://loinc.org|718-7']) },
        { library: 'A', type: 'DiagnosticReport' },
      ]);
    }).not.toThrow();
    expect(patientElementsOf('Procedure')).toContain('patient');
  });

  it('names the library, the type and the readers for a type not related to the patient by subject or patient', () => {
    expect(() => {
      checkRetrievedTypes([{ library: 'Shared', type: 'Medication' }]);
    }).toThrow(ConfigurationError);
    expect(() => {
      checkRetrievedTypes([{ library: 'Shared', type: 'Medication' }]);
    }).toThrow(
      /^Shared: a retrieve of Medication cannot be read: the record readers .* by no element$/,
    );
    expect(() => {
      checkRetrievedTypes([{ library: 'Cover', type: 'Coverage' }]);
    }).toThrow(/Cover: a retrieve of Coverage .* by policyHolder, subscriber, beneficiary, payor/);
  });

  it('fails for a retrieve the fetch plan cannot ask for', () => {
    expect(() => {
      checkRetrievedTypes([{ library: 'B', type: 'Observation' }]);
    }).toThrow(/fetch plan cannot read a retrieve: B: an Observation retrieve without a value set/);
  });
});
