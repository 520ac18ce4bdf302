/**
 * Issue 14: the demo patients' cards as a person sees them. Each card's Markdown is rendered with
 * a well-kept Markdown library (marked, GitHub-flavoured, as EHRs and the CDS Hooks Sandbox render
 * card details) into a page that Debian's Chromium (/usr/bin/chromium, via playwright-core) shows;
 * the assertions read the page's visible text: no raw escapes or UCUM codes, no cut sentences, the
 * dose frequencies. A screenshot is saved to test-output/cards.png. Skipped, with a message, only
 * where Chromium is not installed.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { marked } from 'marked';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CdsResponseSchema, type Card } from '../../src/cards/card.js';
import { startService, type RunningService } from '../support/running-service.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT_DIR = resolve('test-output');
const available = existsSync(CHROMIUM);
if (!available)
  console.warn(
    `card Markdown browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`,
  );
const describeInBrowser = available ? describe : describe.skip;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A card as an EHR lays it out: summary, source, the detail's Markdown rendered. */
function cardHtml(card: Card): string {
  return `<section class="card" data-trial="${escapeHtml(card.source.topic?.code ?? '')}">
  <h2 class="summary">${escapeHtml(card.summary)}</h2>
  <p class="source">Source: ${escapeHtml(card.source.label)}</p>
  <div class="detail">${marked.parse(card.detail ?? '', { async: false, gfm: true })}</div>
</section>`;
}

describeInBrowser('card Markdown in Chromium', () => {
  let service: RunningService;
  let browser: Browser;
  let page: Page;
  let text: string;
  const requests: string[] = [];

  beforeAll(async () => {
    service = await startService();
    const sections: string[] = [];
    for (const patientId of ['sle-eligible', 'sle-missing-labs', 'ssc-ild']) {
      const res = await fetch(`${service.base}/cds-services/trial-matcher`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: randomUUID(),
          fhirServer: service.fhirBase,
          context: { userId: 'Practitioner/example', patientId },
        }),
      });
      const { cards } = CdsResponseSchema.parse(await res.json());
      sections.push(`<h1>${patientId}</h1>`, ...cards.map(cardHtml));
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 480, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    await page.setContent(
      `<!doctype html><html><head><meta charset="utf-8"><style>
        body { font: 14px system-ui, sans-serif; margin: 12px; }
        .card { border: 1px solid #ccc; border-left: 4px solid #1976d2; padding: 8px; margin: 8px 0; }
        .summary { font-size: 15px; margin: 0 0 4px; }
        .source { color: #555; margin: 0; font-size: 12px; }
      </style></head><body>${sections.join('\n')}</body></html>`,
    );
    text = await page.locator('body').innerText();
  }, 90_000);

  afterAll(async () => {
    await browser.close();
    await service.close();
  });

  it('shows no Markdown escapes, raw UCUM codes or LOINC long names', () => {
    expect(text).not.toMatch(/\\[[\]*_<>#|~`]/);
    expect(text).not.toMatch(/m\[IU\]|\[IU\]|10\*9|10\*3/);
    expect(text).not.toMatch(/Choriogonadotropin|Bilirubin\.total|Left ventricular Ejection/);
    expect(text).toContain('Serum beta-hCG 1 mIU/mL (ULN 5 mIU/mL)');
    expect(text).toContain('ANC 3.4 ×10⁹/L (ULN 7.7 ×10⁹/L)');
    expect(text).toContain('FVC and DLCO (Hb-corrected) both > 30 % of predicted');
  });

  it('shows no cut sentence', () => {
    expect(text).not.toMatch(/…|\.\.\./);
  });

  it('shows the dose frequencies', () => {
    expect(text).toContain('mycophenolate mofetil 1000 mg twice daily (2000 mg/day)');
    expect(text).toContain('tacrolimus 2 mg twice daily (4 mg/day)');
    expect(text).toContain('predniSONE 10 mg daily');
  });

  it('renders the sections as headings and lists, not as literal Markdown', async () => {
    expect(text).not.toContain('**');
    const first = page.locator('section.card').first();
    await expect(first.locator('strong').first().innerText()).resolves.toBe(
      '18 of 20 criteria met on record',
    );
    await expect(first.locator('li').count()).resolves.toBeGreaterThan(15);
    await expect(first.locator('em').innerText()).resolves.toBe(
      'Sponsor and sites are not on the registry record.',
    );
  });

  it('loads nothing from the network and saves a screenshot', async () => {
    expect(requests.filter((u) => !u.startsWith('about:') && !u.startsWith('data:'))).toEqual([]);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'cards.png'), fullPage: true });
    expect(existsSync(join(OUTPUT_DIR, 'cards.png'))).toBe(true);
  });
});
