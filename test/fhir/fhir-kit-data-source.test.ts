import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { FhirUnavailableError } from '../../src/shared/errors.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';

const obs = (id: string) => ({
  resource: { resourceType: 'Observation', id, status: 'final', code: { text: 'x' } },
});

describe('FhirKitDataSource', () => {
  let fake: FakeFhirServer;
  const truncated: string[] = [];
  const source = new FhirKitDataSource({
    timeoutMs: 300,
    maxPages: 3,
    onTruncated: (q) => truncated.push(q.query),
  });

  beforeAll(async () => {
    fake = await startFakeFhirServer((_req, res) => {
      sendJson(res, 500, {});
    });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    truncated.length = 0;
  });

  describe('#fetch', () => {
    it('reads a resource, sending the bearer token', async () => {
      fake.handler = (_req, res) => {
        sendJson(res, 200, { resourceType: 'Patient', id: 'p1' });
      };
      const result = await source.fetch({
        fhirServer: fake.base,
        query: 'Patient/p1',
        accessToken: 'tok-1',
      });
      expect(result).toEqual({ resourceType: 'Patient', id: 'p1' });
      expect(fake.requests).toEqual([
        { method: 'GET', url: '/fhir/Patient/p1', authorization: 'Bearer tok-1' },
      ]);
    });

    it('sends no Authorization header without a token', async () => {
      fake.handler = (_req, res) => {
        sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset' });
      };
      await source.fetch({ fhirServer: fake.base, query: 'Condition?patient=p1' });
      expect(fake.requests[0]?.authorization).toBeUndefined();
    });

    it('follows next links and merges the pages into one Bundle, token on every page', async () => {
      fake.handler = (req, res, base) => {
        const page = Number(new URL(req.url ?? '', 'http://x').searchParams.get('page') ?? '1');
        sendJson(res, 200, {
          resourceType: 'Bundle',
          type: 'searchset',
          entry: [obs(`o${page}`)],
          link:
            page < 2
              ? [{ relation: 'next', url: `${base}/Observation?patient=p1&page=${page + 1}` }]
              : [],
        });
      };
      const result = await source.fetch({
        fhirServer: fake.base,
        query: 'Observation?patient=p1',
        accessToken: 'tok-2',
      });
      expect((result.entry as unknown[]).length).toBe(2);
      expect(result.link).toBeUndefined();
      expect(fake.requests.map((r) => r.authorization)).toEqual(['Bearer tok-2', 'Bearer tok-2']);
      expect(truncated).toEqual([]);
    });

    it('stops at FHIR_MAX_PAGES, reports the truncation and says so in the searchset (issue 12)', async () => {
      fake.handler = (req, res, base) => {
        const page = Number(new URL(req.url ?? '', 'http://x').searchParams.get('page') ?? '1');
        sendJson(res, 200, {
          resourceType: 'Bundle',
          type: 'searchset',
          entry: [obs(`o${page}`)],
          link: [{ relation: 'next', url: `${base}/Observation?page=${page + 1}` }],
        });
      };
      const result = await source.fetch({ fhirServer: fake.base, query: 'Observation?patient=p1' });
      const entries = result.entry as { resource: { resourceType: string; issue?: unknown } }[];
      expect(entries.map((e) => e.resource.resourceType)).toEqual([
        'Observation',
        'Observation',
        'Observation',
        'OperationOutcome',
      ]);
      expect(entries[3]?.resource.issue).toEqual([
        expect.objectContaining({ severity: 'warning', code: 'too-costly' }),
      ]);
      expect(fake.requests).toHaveLength(3);
      expect(truncated).toEqual(['Observation?patient=p1']);
    });

    it('never follows a next link to another origin', async () => {
      fake.handler = (_req, res) => {
        sendJson(res, 200, {
          resourceType: 'Bundle',
          type: 'searchset',
          link: [{ relation: 'next', url: 'http://169.254.169.254/latest' }],
        });
      };
      await expect(
        source.fetch({ fhirServer: fake.base, query: 'Observation?patient=p1' }),
      ).rejects.toThrow(/another origin/);
      expect(fake.requests).toHaveLength(1);
    });

    it.each([
      [
        'HTTP 500',
        (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
          sendJson(res, 500, { resourceType: 'OperationOutcome' });
        },
        /HTTP 500/,
      ],
      [
        'HTTP 401',
        (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
          sendJson(res, 401, {});
        },
        /HTTP 401/,
      ],
      [
        'invalid JSON',
        (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"resourceType": "Bun');
        },
        /invalid JSON/,
      ],
      [
        'a wrong resource type',
        (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
          sendJson(res, 200, { resourceType: 'Patient', id: 'x' });
        },
        /"Patient" where a Bundle/,
      ],
      [
        'not a resource',
        (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
          sendJson(res, 200, [1, 2]);
        },
        /not a FHIR resource/,
      ],
      ['a timeout', () => undefined, /in time/],
    ])('throws FhirUnavailableError on %s', async (_name, handler, message) => {
      fake.handler = handler;
      const error: unknown = await source
        .fetch({ fhirServer: fake.base, query: 'Condition?patient=p1', accessToken: 'tok-3' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FhirUnavailableError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('tok-3');
      expect((error as Error).message).not.toContain('p1');
    });

    it('throws FhirUnavailableError when the server cannot be reached', async () => {
      await expect(
        source.fetch({ fhirServer: 'http://127.0.0.1:1/fhir', query: 'Patient/p1' }),
      ).rejects.toBeInstanceOf(FhirUnavailableError);
    });
  });
});
