import { randomUUID } from 'node:crypto';
import { SpecResponseSchema } from '../cds-hooks/spec-schemas.js';
import { SERVICE } from '../support/http-deps.js';
import { startService, type RunningService } from '../support/running-service.js';

const SYNTHEA_PATIENT = 'da2c7b0a-791a-4b8f-9a30-dc3d8cf1ec75'; // Tom Goodwin: no lupus, no SSc
const TOKEN = 'int-test-token-c0ffee';

describe('the service over HTTP with the embedded FHIR server', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service.close());

  async function hook(
    patientId: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ status: number; body: { cards: Record<string, unknown>[] } }> {
    const res = await fetch(`${service.base}/cds-services/trial-matcher`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: randomUUID(),
        fhirServer: service.fhirBase,
        context: { userId: 'Practitioner/example', patientId },
        ...extra,
      }),
    });
    return { status: res.status, body: (await res.json()) as { cards: Record<string, unknown>[] } };
  }
  const trialsOf = (cards: readonly Record<string, unknown>[]) =>
    cards.map((c) => /NCT\d{8}/.exec(JSON.stringify(c.source))?.[0]).sort();

  it('gives the SLE demo patient real cards, fetching everything (no prefetch)', async () => {
    const { status, body } = await hook('sle-eligible');
    expect(status).toBe(200);
    SpecResponseSchema.parse(body);
    expect(trialsOf(body.cards)).toEqual(expect.arrayContaining(['NCT06822881', 'NCT07339332']));
  });

  it('gives the SSc demo patient a card for NCT06822881', async () => {
    const { status, body } = await hook('ssc-ild');
    expect(status).toBe(200);
    SpecResponseSchema.parse(body);
    expect(trialsOf(body.cards)).toContain('NCT06822881');
  });

  it('answers {"cards": []} for a Synthea patient without lupus or SSc', async () => {
    const { status, body } = await hook(SYNTHEA_PATIENT);
    expect(status).toBe(200);
    expect(body).toEqual({ cards: [] });
  });

  it('gives the same trials when the data comes as prefetch, without fhirServer', async () => {
    const prefetch: Record<string, unknown> = {};
    for (const [key, template] of Object.entries(SERVICE.prefetch ?? {})) {
      const res = await fetch(
        `${service.fhirBase}/${template.replace('{{context.patientId}}', 'sle-eligible')}`,
      );
      prefetch[key] = await res.json();
    }
    const res = await fetch(`${service.base}/cds-services/trial-matcher`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: randomUUID(),
        context: { userId: 'Practitioner/example', patientId: 'sle-eligible' },
        prefetch,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { cards: Record<string, unknown>[] };
    expect(trialsOf(body.cards)).toEqual(trialsOf((await hook('sle-eligible')).body.cards));
  });

  it('logs no token, patient id or patient name for a full request', async () => {
    service.logs.lines.length = 0;
    const { status } = await hook('sle-eligible', {
      fhirAuthorization: {
        access_token: TOKEN,
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'patient/*.read',
        subject: 'cds-service',
      },
    });
    expect(status).toBe(200);
    const text = service.logs.lines.join('\n');
    // one access line per request: the hook call and the 10 FHIR calls it made to the embedded
    // server (the Observation search asked again without _sort, which the demo server refuses)
    expect(service.logs.records.filter((r) => r.msg === 'request')).toHaveLength(11);
    expect(service.logs.records.some((r) => r.msg === 'patient-view answered')).toBe(true);
    for (const secret of [TOKEN, 'sle-eligible', 'Maria', 'Demo-Lupus'])
      expect(text).not.toContain(secret);
  });
});
