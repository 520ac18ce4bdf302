import { InvalidRequestError } from '../../src/shared/errors.js';
import { parsePatientViewRequest } from '../../src/cds-hooks/request.js';
import { fillTemplate } from '../../src/cds-hooks/prefetch.js';

const valid = {
  hook: 'patient-view',
  hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
  context: { userId: 'PractitionerRole/r1', patientId: 'p1', encounterId: 'e1' },
};

describe('parsePatientViewRequest', () => {
  it('keeps the spec fields and defaults prefetch to {}', () => {
    expect(parsePatientViewRequest(valid, 'patient-view')).toEqual({
      hook: 'patient-view',
      hookInstance: valid.hookInstance,
      context: valid.context,
      prefetch: {},
    });
  });

  it('accepts a lower-case bearer token type', () => {
    const auth = {
      access_token: 't',
      token_type: 'bearer',
      expires_in: 1,
      scope: 's',
      subject: 'c',
    };
    const parsed = parsePatientViewRequest(
      { ...valid, fhirServer: 'https://x/fhir', fhirAuthorization: auth },
      'patient-view',
    );
    expect(parsed.fhirAuthorization?.access_token).toBe('t');
  });

  it.each([null, [], 'x', 3])('rejects a body of %p', (body) => {
    expect(() => parsePatientViewRequest(body, 'patient-view')).toThrow(InvalidRequestError);
  });
});

describe('fillTemplate', () => {
  const request = parsePatientViewRequest(valid, 'patient-view');
  it('fills context tokens and user shortcuts', () => {
    expect(
      fillTemplate(
        'Observation?patient={{context.patientId}}&encounter={{context.encounterId}}',
        request,
      ),
    ).toBe('Observation?patient=p1&encounter=e1');
    expect(fillTemplate('PractitionerRole/{{userPractitionerRoleId}}', request)).toBe(
      'PractitionerRole/r1',
    );
  });
  it('answers undefined when a token has no value in this call', () => {
    expect(fillTemplate('Practitioner/{{userPractitionerId}}', request)).toBeUndefined();
  });
});
