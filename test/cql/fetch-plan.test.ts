import { fetchPlan, uncoveredRetrieves, type PlannedRetrieve } from '../../src/cql/fetch-plan.js';

describe('fetchPlan', () => {
  const many = new Set(Array.from({ length: 120 }, (_, i) => `http://loinc.org|${10000 + i}-1`));
  const retrieves: PlannedRetrieve[] = [
    { library: 'A', type: 'Observation', codes: many },
    { library: 'A', type: 'Condition' },
    { library: 'A', type: 'MedicationRequest' },
    { library: 'A', type: 'Encounter' },
  ];

  it('splits a long code list over several Observation keys, each within 1,500 characters of codes', () => {
    const plan = fetchPlan(retrieves);
    const observations = plan.filter((k) => k.type === 'Observation');
    expect(observations.map((k) => k.key)).toEqual(['observations', 'observations2']);
    for (const key of observations)
      expect(/code=([^&]*)/.exec(key.template)?.[1]?.length).toBeLessThanOrEqual(1500);
    expect(
      uncoveredRetrieves(retrieves, Object.fromEntries(plan.map((k) => [k.key, k.template]))),
    ).toEqual([]);
  });

  it('asks for every type retrieved, the Patient always, medications with their Medication', () => {
    const plan = fetchPlan(retrieves);
    expect(plan.map((k) => [k.key, k.optional])).toEqual([
      ['patient', false],
      ['conditions', false],
      ['observations', false],
      ['observations2', false],
      ['medicationRequests', false],
      ['encounters', true],
    ]);
    expect(plan.find((k) => k.type === 'MedicationRequest')?.template).toBe(
      'MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication',
    );
  });

  it('refuses an Observation retrieve without a value set: a code search cannot answer it', () => {
    expect(() => fetchPlan([{ library: 'B', type: 'Observation' }])).toThrow(/without a value set/);
  });

  it('names a type no template searches, and a category search as not answering a coded retrieve', () => {
    expect(
      uncoveredRetrieves(retrieves, {
        observations: 'Observation?patient={{context.patientId}}&category=laboratory',
      }),
    ).toHaveLength(4);
  });
});
