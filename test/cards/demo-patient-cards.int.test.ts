/**
 * Issue 14: what the demo patients' cards say, read as a rheumatologist would, through the whole
 * service (HTTP, the embedded FHIR server, the real engine). Dates are shifted to today by the demo
 * server, so they are matched as dates, not spelled out.
 */
import { randomUUID } from 'node:crypto';
import { CdsResponseSchema, type Card } from '../../src/cards/card.js';
import { startService, type RunningService } from '../support/running-service.js';

const DATE = '\\d{4}-\\d{2}-\\d{2}';

describe('cards for the demo patients', () => {
  let service: RunningService;
  const cards = new Map<string, Card[]>();

  beforeAll(async () => {
    service = await startService();
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
      expect(res.status).toBe(200);
      cards.set(patientId, CdsResponseSchema.parse(await res.json()).cards);
    }
  }, 60_000);
  afterAll(() => service.close());

  const cardsOf = (patientId: string): Card[] => cards.get(patientId) ?? [];
  const card = (patientId: string, trialId: string): Card => {
    const found = cardsOf(patientId).find((c) => c.source.topic?.code === trialId);
    if (found === undefined) throw new Error(`no ${trialId} card for ${patientId}`);
    return found;
  };
  const allText = (): string =>
    [...cards.values()]
      .flat()
      .map((c) => `${c.summary}\n${c.source.label}\n${c.detail ?? ''}`)
      .join('\n');

  it('gives each demo patient the expected trials', () => {
    expect(cardsOf('sle-eligible').map((c) => c.source.topic?.code)).toEqual([
      'NCT07339332',
      'NCT06822881',
      'NCT06349343',
    ]);
    expect(cardsOf('ssc-ild').map((c) => c.source.topic?.code)).toEqual(['NCT06822881']);
  });

  it('shows doses with their frequency and daily total', () => {
    const detail = card('sle-eligible', 'NCT07339332').detail ?? '';
    expect(detail).toMatch(
      new RegExp(`mycophenolate mofetil 1000 mg twice daily \\(2000 mg/day\\), since ${DATE}`),
    );
    expect(detail).toMatch(new RegExp(`predniSONE 10 mg daily, since ${DATE}`));
    expect(card('sle-missing-labs', 'NCT06822881').detail).toContain(
      'tacrolimus 2 mg twice daily (4 mg/day)',
    );
    expect(card('ssc-ild', 'NCT06822881').detail).toContain(
      'mycophenolate mofetil 1500 mg twice daily (3000 mg/day)',
    );
  });

  it('never cuts a sentence short', () => {
    expect(allText()).not.toMatch(/…|\.\.\./);
  });

  it('names each criterion by its authored label, with threshold and window', () => {
    const detail = card('sle-eligible', 'NCT07339332').detail ?? '';
    expect(detail).toMatch(
      new RegExp(`- LVEF ≥ 50 % by echo, within 8 weeks before screening: LVEF 62 %, ${DATE}`),
    );
    expect(detail).toContain('- SLE by EULAR/ACR 2019 criteria, diagnosed ≥ 6 months: ');
  });

  it('writes units as people do, converts to the criterion unit and shows the clearance computed', () => {
    const text = allText();
    expect(text).not.toMatch(/m\\?\[IU|10\\?\*9|\\\[|Choriogonadotropin|Bilirubin\.total/);
    const detail = card('sle-eligible', 'NCT07339332').detail ?? '';
    expect(detail).toMatch(new RegExp(`Serum beta-hCG 1 mIU/mL \\(ULN 5 mIU/mL\\), ${DATE}`));
    expect(detail).toMatch(new RegExp(`ANC 3\\.4 ×10⁹/L \\(ULN 7\\.7 ×10⁹/L\\), ${DATE}`));
    expect(detail).toMatch(
      new RegExp(`Hb 118 g/L \\(recorded as 11\\.8 g/dL; ULN 160 g/L\\), ${DATE}`),
    );
    expect(detail).toMatch(
      new RegExp(`Total bilirubin 0\\.6 mg/dL \\(ULN 1\\.2 mg/dL\\), ${DATE}`),
    );
    expect(detail).toMatch(
      new RegExp(
        `Creatinine clearance 97 mL/min \\(Cockcroft-Gault: creatinine 0\\.8 mg/dL on ${DATE}, weight 62 kg on ${DATE}, age 34, female\\)`,
      ),
    );
  });

  it('shows each record once per card', () => {
    for (const c of [...cards.values()].flat()) {
      const detail = c.detail ?? '';
      for (const drug of ['mycophenolate mofetil', 'predniSONE', 'Lupus nephritis', 'Body weight'])
        expect(`${c.source.topic?.code ?? ''}: ${String(detail.split(drug).length - 1 <= 1)}`).toBe(
          `${c.source.topic?.code ?? ''}: true`,
        );
    }
  });

  it('phrases exclusions as what was not found, apart from the inclusions met', () => {
    const detail = card('ssc-ild', 'NCT06822881').detail ?? '';
    expect(detail).not.toContain('Excluded');
    const exclusions = detail.split('**Exclusions checked**\n')[1] ?? '';
    expect(exclusions).toMatch(
      new RegExp(
        `^- FVC and DLCO \\(Hb-corrected\\) both \\\\> 30 % of predicted: FVC % predicted 64 %, ${DATE}; DLCO`,
      ),
    );
    expect(exclusions).toContain('\n- No severe kidney disease or scleroderma renal crisis\n');
    expect(exclusions).toContain('\n- No risk of active tuberculosis at screening');
    const met = detail.split('**Met**\n')[1]?.split('**Exclusions checked**')[0] ?? '';
    expect(met).not.toMatch(/kidney disease|tuberculosis|FVC/);
  });

  it('never calls NCT06349343 a likely match and ranks it after trials with decided criteria', () => {
    for (const patientId of ['sle-eligible', 'sle-missing-labs']) {
      const all = cardsOf(patientId);
      const last = all[all.length - 1];
      expect(last?.source.topic?.code).toBe('NCT06349343');
      expect(last?.summary).toBe(
        'Protocol criteria unpublished: CD19/BCMA CAR-T without lymphodepletion for refractory SLE (NCT06349343), only its 2 registry checks met',
      );
      expect(last?.detail).toMatch(
        /^\*\*The protocol's criteria are unpublished\*\*: 2 of 2 registry checks met on record, 3 criteria to check with the study team\n/,
      );
      expect(last?.detail).toContain('**Ask the study team**');
    }
    // A possible match (criteria still to confirm) ranks before it too.
    expect(card('sle-missing-labs', 'NCT06822881').summary).toMatch(/^Possible match: /);
  });

  it('states counts against all criteria, never "Meets all N criteria"', () => {
    expect(allText()).not.toMatch(/Meets all/);
    expect(card('sle-eligible', 'NCT07339332').detail).toMatch(
      /^\*\*18 of 20 criteria met on record\*\*, 2 to check by hand\n/,
    );
    expect(card('sle-missing-labs', 'NCT07339332').detail).toMatch(
      /^\*\*7 of 20 criteria met on record\*\*, 11 to confirm, 2 to check by hand\n/,
    );
  });

  it('uses no project wording and shows a cohort caveat only while that cohort is possible', () => {
    expect(allText()).not.toMatch(
      /heading present|body missing|seed text|site-mapped|not on record\b/,
    );
    const ssc = card('ssc-ild', 'NCT06822881').detail ?? '';
    expect(ssc).not.toContain('SLE exclusion');
    expect(ssc).toContain('Refractory SSc is judged from the treatment history only');
    const sle = card('sle-eligible', 'NCT06822881').detail ?? '';
    expect(sle).toContain("The trial's SLE exclusion criteria are not published");
    expect(sle).not.toContain('Refractory SSc');
  });

  it('names the sponsor, or the registry when no sponsor is known', () => {
    expect(card('sle-eligible', 'NCT07339332').source.label).toBe('ClinicalTrials.gov NCT07339332');
    expect(card('sle-eligible', 'NCT06822881').source.label).toBe(
      'NCT06822881 · Beijing GoBroad Hospital',
    );
  });
});
