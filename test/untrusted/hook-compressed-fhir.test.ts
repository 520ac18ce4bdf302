/**
 * Issue 15 item 6 through POST /cds-services/trial-matcher: FHIR_MAX_BODY bounds what a FHIR
 * server's answer decodes to, not only the compressed bytes on the wire.
 */
import { gzipSync, brotliCompressSync } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import { makeCdsRequest, makeDeps, patientResource } from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';
const LIMIT = 200_000;

function encode(body: unknown, encoding: 'gzip' | 'br'): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  return encoding === 'gzip' ? gzipSync(json) : brotliCompressSync(json);
}

function sendEncoded(res: ServerResponse, encoded: Buffer, encoding: 'gzip' | 'br'): void {
  res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-encoding': encoding });
  res.end(encoded);
}

/** 10 MB of spaces in a Patient: a few KB on the wire. */
const BIG = { ...patientResource(), text: { div: ' '.repeat(10 * 1024 * 1024) } };
const SMALL = { ...patientResource(), text: { div: ' '.repeat(LIMIT / 2) } };
const EMPTY = { resourceType: 'Bundle', type: 'searchset', entry: [] };

describe('compressed FHIR answers (issue 15 item 6)', () => {
  let ehr: FakeFhirServer;
  let patient: unknown = SMALL;
  let encoding: 'gzip' | 'br' = 'gzip';
  const encoded = new Map<unknown, Buffer>();
  const encodedOnce = (body: unknown): Buffer => {
    const key = `${encoding}:${body === BIG ? 'big' : body === SMALL ? 'small' : 'empty'}`;
    let bytes = encoded.get(key);
    if (bytes === undefined) {
      bytes = encode(body, encoding);
      encoded.set(key, bytes);
    }
    return bytes;
  };
  const dataSource = new FhirKitDataSource({
    timeoutMs: 20_000,
    maxPages: 3,
    maxResponseBytes: LIMIT,
  });
  beforeAll(async () => {
    ehr = await startFakeFhirServer((req, res) => {
      const body = (req.url ?? '').includes('/Patient/') ? patient : EMPTY;
      sendEncoded(res, encodedOnce(body), encoding);
    });
  });
  afterAll(() => Promise.all([ehr.close(), dataSource.close()]));

  const call = () =>
    request(createApp(makeDeps({ dataSource })))
      .post(CALL)
      .send(makeCdsRequest({ prefetch: {}, fhirServer: ehr.base }));

  it.each(['gzip', 'br'] as const)(
    'refuses a %s answer that decodes past FHIR_MAX_BODY (412)',
    async (coding) => {
      encoding = coding;
      patient = BIG;
      encodedOnce(BIG);
      const res = await call();
      expect(res.status).toBe(412);
      expect((res.body as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toMatch(
        /for prefetch key patient/,
      );
    },
  );

  it('reads a compressed answer within the limit', async () => {
    encoding = 'gzip';
    patient = SMALL;
    const res = await call();
    expect(res.status).toBe(200);
  });
});
