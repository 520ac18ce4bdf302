import ucumLhc from '@lhncbc/ucum-lhc';

/**
 * Units as a clinician writes them. The patient bundle carries UCUM codes (`m[IU]/mL`, `10*9/L`,
 * `umol/L`): exact for computing, but read as noise on a card. The code is still what conversion
 * uses; only the text shown changes.
 */

const ucum = ucumLhc.UcumLhcUtils.getInstance();

const SUPERSCRIPT: Readonly<Record<string, string>> = {
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
  '-': '⁻',
};

/** Whole UCUM codes whose usual written form is not a token-by-token rewrite. */
const WRITTEN: Readonly<Record<string, string>> = {
  'mL/min/{1.73_m2}': 'mL/min/1.73 m²',
  '[lb_av]': 'lb',
  '[in_i]': 'in',
  'mm[Hg]': 'mmHg',
  '[degF]': '°F',
  Cel: '°C',
};

/**
 * The written form of a UCUM unit: `m[IU]/mL` → `mIU/mL`, `10*9/L` → `×10⁹/L`, `umol/L` →
 * `µmol/L`. Dimensionless units (`1`, annotations such as `{INR}` or `{score}`) are written as
 * nothing.
 * @param code - a UCUM code, or a unit as the record wrote it.
 */
export function writtenUnit(code: string): string {
  const whole = WRITTEN[code];
  if (whole !== undefined) return whole;
  if (code === '1' || /^\{[^}]*\}$/.test(code)) return '';
  return (
    code
      // Powers of ten: 10*9/L, 10^9/L → ×10⁹/L.
      .replace(
        /^10[*^](-?\d+)/,
        (_m, exp: string) => `×10${exp.replace(/[-\d]/g, (d) => SUPERSCRIPT[d] ?? d)}`,
      )
      // Square brackets mark UCUM's special units: [IU] → IU, [iU] → IU.
      .replace(/\[(i?U)\]/gi, 'IU')
      .replace(/\[([^\]]+)\]/g, '$1')
      // UCUM spells the micro prefix "u": umol, ug, uL, uIU → µmol, µg, µL, µIU.
      .replace(/(^|[/.])u(?=(mol|g|L|IU|m)\b)/g, '$1µ')
      .replace(/\{[^}]*\}/g, '')
  );
}

/**
 * Converts a value between two UCUM units of the same kind (g/dL → g/L), or undefined when they
 * are not commensurable (mg/dL and mL/min) or not UCUM.
 * @param value - the value in `from`.
 * @param from - its UCUM unit.
 * @param to - the UCUM unit wanted.
 */
export function convertUnit(value: number, from: string, to: string): number | undefined {
  if (from === to) return value;
  try {
    const result = ucum.convertUnitTo(from, value, to);
    return result.status === 'succeeded' && typeof result.toVal === 'number'
      ? result.toVal
      : undefined;
  } catch {
    return undefined;
  }
}

/** A number as a card shows it: at most 4 significant digits, no trailing zeros. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}
