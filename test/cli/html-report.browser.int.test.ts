/**
 * The HTML report in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core.
 * Asserts what a person sees (counts, the funnel, sorting by clicking a header, the per-criterion
 * drill-down), that the page makes no network request, and saves a screenshot to
 * test-output/html-report.png. Skipped, with a message, only where Chromium is not installed.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ScreenReport } from '../../src/cli/screen.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { createReportWriter } from '../../src/population/report-writers.js';
import { AS_OF, bundle, observation, patient, sle } from '../support/fhir-builders.js';
import { inProcessScreenDeps, screenCli } from '../support/screen-cli.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT_DIR = resolve('test-output');
const available = existsSync(CHROMIUM);
if (!available)
  console.warn(
    `html-report browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`,
  );
const describeInBrowser = available ? describe : describe.skip;

describeInBrowser('HTML report in Chromium', () => {
  const engine = loadEligibilityEngine();
  const deps = inProcessScreenDeps(engine);
  const dir = mkdtempSync(join(tmpdir(), 'html-report-'));
  const inputs = join(dir, 'inputs');
  mkdirSync(inputs);
  const write = (name: string, content: unknown): void => {
    writeFileSync(join(inputs, name), JSON.stringify(content));
  };
  write('1-carol.json', bundle(patient({ id: 'carol', age: 30 }), sle()));
  write('2-alice.json', bundle(patient({ id: 'alice', age: 70 }), sle()));
  write(
    '3-bob.json',
    bundle(
      patient({ id: 'bob', age: 45 }),
      sle(),
      observation('718-7', { quantity: 5, unit: 'g/dL' }),
    ),
  );
  write('4-dave.json', bundle(patient({ id: 'dave', age: 52, gender: 'male' })));
  write('5-broken.json', bundle());
  const html = join(dir, 'report.html');

  let report: ScreenReport;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    report = JSON.parse((await screenCli(['--as-of', AS_OF, inputs], deps)).out) as ScreenReport;
    await screenCli(['--as-of', AS_OF, '--format', 'html', '--out', html, inputs], deps);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright-core gives every launch a fresh, empty user data dir.
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
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(html).href);
  }, 60_000);

  afterAll(async () => {
    await browser.close();
  });

  const patientColumn = (): Promise<string[]> =>
    page.locator('#patients tbody tr.patient td:nth-child(2)').allInnerTexts();

  it('shows the summary and the per-trial counts the JSON output has', async () => {
    await expect(page.locator('#summary').innerText()).resolves.toContain(
      `As of ${AS_OF}: 4 patients screened, 1 inputs failed. Complete report.`,
    );
    for (const trial of engine.trials) {
      const count = (status: string): string =>
        String(
          report.patients.filter((p) => p.trials.find((t) => t.id === trial.id)?.status === status)
            .length,
        );
      const row = page.locator(`#counts tr[data-trial="${trial.id}"] td`);
      expect(await row.allInnerTexts()).toEqual([
        trial.id,
        trial.title,
        count('eligible'),
        count('needs-review'),
        count('ineligible'),
      ]);
    }
  });

  it('shows a funnel where the age criterion removes the 70-year-old', async () => {
    const ageRow = page.locator(
      'table.funnel[data-trial="NCT07339332"] tr[data-criterion="age-18-65"] td',
    );
    const cells = await ageRow.allInnerTexts();
    expect(cells[0]).toBe('age-18-65');
    expect(cells[1]).toBe('1');
    expect(cells[2]).toBe('3');
  });

  it('sorts the patient table by clicking a header, and back', async () => {
    expect(await patientColumn()).toEqual(['carol', 'alice', 'bob', 'dave', '']);
    const header = page.locator('#patients th', { hasText: /^Patient$/ });
    await header.click();
    expect(await patientColumn()).toEqual(['', 'alice', 'bob', 'carol', 'dave']);
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    await header.click();
    expect(await patientColumn()).toEqual(['dave', 'carol', 'bob', 'alice', '']);
    expect(await header.getAttribute('aria-sort')).toBe('descending');

    await page.locator('#patients th', { hasText: 'NCT07339332' }).click();
    const statuses = await page
      .locator('#patients tbody tr.patient td:nth-child(3)')
      .allInnerTexts();
    const rank = (s: string): number => ['eligible', 'needs-review', 'ineligible'].indexOf(s);
    const known = statuses.filter((s) => rank(s) >= 0);
    expect(known).toEqual([...known].sort((a, b) => rank(a) - rank(b)));
    expect(statuses.at(-1)).toContain('Input failed: the Bundle holds no Patient resource');
  });

  it('drills down into every criterion of a patient', async () => {
    const alice = page.locator('#patients tr.patient', { hasText: 'alice' });
    await alice.getByRole('button').click();
    const detail = page.locator('#patients tr.detail');
    await expect(detail.count()).resolves.toBe(1);
    const ageRow = detail
      .locator('h4', { hasText: 'NCT07339332' })
      .locator('+ table tr[data-criterion="age-18-65"] td');
    const cells = await ageRow.allInnerTexts();
    expect(cells[2]).toMatch(/18/);
    expect(cells[3]).toBe('fail');
    expect(cells[4]).toBe('Patient/alice');
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'html-report.png'), fullPage: true });
    await alice.getByRole('button').click();
    await expect(detail.count()).resolves.toBe(0);
  });

  it('loads nothing but the file itself', () => {
    expect(requests).toEqual([pathToFileURL(html).href]);
  });

  it('shows a large population 500 rows at a time, sorting all of them', async () => {
    const [sample] = report.patients;
    const big = join(dir, 'big.html');
    let text = '';
    const writer = createReportWriter('html', {
      asOf: AS_OF,
      trials: engine.trials,
      sink: (t) => (text += t),
    });
    for (let i = 0; i < 700; i++) {
      const id = `p${String(i).padStart(4, '0')}`;
      writer.write({
        kind: 'screened',
        patient: { ...sample!, source: `big#Patient/${id}`, patientId: id },
      });
    }
    writer.finish({ screened: 700, failed: 0, interrupted: false });
    writeFileSync(big, text);
    const bigPage = await browser.newPage();
    await bigPage.goto(pathToFileURL(big).href);
    const rows = bigPage.locator('#patients tbody tr.patient');
    const more = bigPage.getByRole('button', { name: /more of 700 patients/ });
    await expect(rows.count()).resolves.toBe(500);
    await expect(more.innerText()).resolves.toBe('Show 200 more of 700 patients');
    await bigPage.locator('#patients th', { hasText: /^Patient$/ }).click();
    await bigPage.locator('#patients th', { hasText: /^Patient$/ }).click();
    await expect(rows.first().locator('td:nth-child(2)').innerText()).resolves.toBe('p0699');
    await more.click();
    await expect(rows.count()).resolves.toBe(700);
    await expect(more.isHidden()).resolves.toBe(true);
    await bigPage.close();
  });
});
