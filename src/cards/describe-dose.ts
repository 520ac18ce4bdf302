import type { Dosage, Quantity, Timing } from 'fhir/r4.js';
import { convertUnit, formatNumber, writtenUnit } from './units.js';

/**
 * A dose as a prescriber writes it: amount, how often, and the daily total when it is taken more
 * than once a day ("1000 mg twice daily (2000 mg/day)"). Whether immunosuppression was adequate is
 * what "refractory" turns on, so a dose never loses its frequency, and a frequency the record does
 * not give is said to be unknown, never taken as once a day.
 */

/** v3-GTSAbbreviation timing codes ({@link https://hl7.org/fhir/R4/valueset-timing-abbreviation.html}). */
const TIMING_CODES: Readonly<Record<string, { frequency: number; periodDays: number }>> = {
  QD: { frequency: 1, periodDays: 1 },
  BID: { frequency: 2, periodDays: 1 },
  TID: { frequency: 3, periodDays: 1 },
  QID: { frequency: 4, periodDays: 1 },
  AM: { frequency: 1, periodDays: 1 },
  PM: { frequency: 1, periodDays: 1 },
  QAM: { frequency: 1, periodDays: 1 },
  QPM: { frequency: 1, periodDays: 1 },
  QHS: { frequency: 1, periodDays: 1 },
  QOD: { frequency: 1, periodDays: 2 },
  Q4H: { frequency: 6, periodDays: 1 },
  Q6H: { frequency: 4, periodDays: 1 },
  Q8H: { frequency: 3, periodDays: 1 },
  Q12H: { frequency: 2, periodDays: 1 },
  WK: { frequency: 1, periodDays: 7 },
  MO: { frequency: 1, periodDays: 30 },
};

const DAYS_PER_UNIT: Readonly<Record<string, number>> = {
  s: 1 / 86400,
  min: 1 / 1440,
  h: 1 / 24,
  d: 1,
  wk: 7,
  mo: 30,
  a: 365,
};

interface Frequency {
  /** Administrations per period. */
  readonly frequency: number;
  readonly periodDays: number;
}

function timingFrequency(timing: Timing | undefined): Frequency | undefined {
  const repeat = timing?.repeat;
  if (repeat?.period !== undefined) {
    const unitDays = DAYS_PER_UNIT[repeat.periodUnit ?? 'd'];
    if (unitDays === undefined || repeat.period <= 0) return undefined;
    return { frequency: repeat.frequency ?? 1, periodDays: repeat.period * unitDays };
  }
  if (repeat?.frequency !== undefined && repeat.periodUnit !== undefined) {
    const unitDays = DAYS_PER_UNIT[repeat.periodUnit];
    return unitDays === undefined
      ? undefined
      : { frequency: repeat.frequency, periodDays: unitDays };
  }
  // Times of day with no frequency: each is one administration a day ("08:00", "20:00").
  const timesOfDay = repeat?.timeOfDay?.length ?? 0;
  if (timesOfDay > 0 && repeat?.frequency === undefined)
    return { frequency: timesOfDay, periodDays: 1 };
  for (const candidate of [
    ...(timing?.code?.coding ?? []).map((c) => c.code),
    timing?.code?.text,
  ]) {
    const known =
      candidate === undefined ? undefined : TIMING_CODES[candidate.trim().toUpperCase()];
    if (known !== undefined) return known;
  }
  return undefined;
}

const TIMES = ['', 'once', 'twice', 'three times', 'four times'];

function times(n: number): string {
  return TIMES[n] ?? `${formatNumber(n)} times`;
}

function frequencyText({ frequency, periodDays }: Frequency): string {
  if (periodDays === 1) return frequency === 1 ? 'daily' : `${times(frequency)} daily`;
  if (periodDays === 7) return frequency === 1 ? 'weekly' : `${times(frequency)} weekly`;
  if (periodDays === 2 && frequency === 1) return 'every other day';
  if (periodDays < 1 && frequency === 1) return `every ${formatNumber(periodDays * 24)} h`;
  if (periodDays % 7 === 0 && frequency === 1) return `every ${formatNumber(periodDays / 7)} weeks`;
  if (periodDays === 30 && frequency === 1) return 'monthly';
  if (frequency === 1) return `every ${formatNumber(periodDays)} days`;
  return `${times(frequency)} every ${formatNumber(periodDays)} days`;
}

function amountText(quantity: Quantity): string | undefined {
  if (quantity.value === undefined) return undefined;
  const unit = writtenUnit(quantity.code ?? quantity.unit ?? '');
  const countUnit =
    quantity.code === '{tablet}' ? (quantity.value === 1 ? 'tablet' : 'tablets') : unit;
  return `${formatNumber(quantity.value)}${countUnit === '' ? '' : ` ${countUnit}`}`;
}

/**
 * The dose per administration. Epic sends several typed doseAndRate entries (calculated,
 * admin-amount, ordered): the ordered dose is what was prescribed.
 */
function doseQuantity(dosage: Dosage): Quantity | undefined {
  const withDose = (dosage.doseAndRate ?? []).filter((d) => d.doseQuantity !== undefined);
  const ordered = withDose.find((d) =>
    d.type?.coding?.some((c) => c.code?.toLowerCase() === 'ordered'),
  );
  return (ordered ?? withDose[0])?.doseQuantity;
}

/** A dose described, and whether it was given in mass (so a product's strength adds nothing). */
export interface DoseText {
  readonly text: string;
  readonly inMass: boolean;
}

/**
 * Describes the first dosage instruction, or undefined when it gives neither a dose nor text.
 * @param dosages - `MedicationRequest.dosageInstruction` or `MedicationStatement.dosage`.
 */
export function describeDose(dosages: readonly Dosage[] | undefined): DoseText | undefined {
  const dosage = dosages?.[0];
  if (dosage === undefined) return undefined;
  const quantity = doseQuantity(dosage);
  const amount = quantity === undefined ? undefined : amountText(quantity);
  const text = dosage.text?.replace(/\s+/g, ' ').trim();
  if (amount === undefined)
    return text === undefined || text === '' ? undefined : { text, inMass: false };
  const mg =
    quantity?.value === undefined || quantity.code === undefined
      ? undefined
      : convertUnit(quantity.value, quantity.code, 'mg');
  const inMass = mg !== undefined;
  const frequency = timingFrequency(dosage.timing);
  const asNeeded = dosage.asNeededBoolean === true || dosage.asNeededCodeableConcept !== undefined;
  if (frequency === undefined) {
    if (asNeeded) return { text: `${amount} per dose, as needed`, inMass };
    // A frequency only in free text is shown as written; none at all is said to be unknown.
    const how =
      text === undefined || text === ''
        ? 'frequency not recorded'
        : `frequency not coded, instructions: "${text}"`;
    return { text: `${amount} per dose, ${how}`, inMass };
  }
  const parts = [amount, frequencyText(frequency)];
  if (asNeeded) parts.push('as needed');
  let total = '';
  const perDay = frequency.frequency / frequency.periodDays;
  if (mg !== undefined && perDay > 1 && !asNeeded) total = ` (${formatNumber(mg * perDay)} mg/day)`;
  return { text: `${parts.join(' ')}${total}`, inMass };
}
