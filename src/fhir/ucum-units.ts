import ucumLhc from '@lhncbc/ucum-lhc';

const ucum = ucumLhc.UcumLhcUtils.getInstance();
const validity = new Map<string, boolean>();

/**
 * Units as EHRs write them, and the UCUM code they mean. Looked up BEFORE UCUM validity: `K/uL`
 * (thousands per microlitre on a blood count) is also valid UCUM for kelvin per microlitre.
 */
const ALIASES: Readonly<Record<string, string>> = {
  'x10^9/L': '10*9/L',
  'x10E9/L': '10*9/L',
  '10^9/L': '10*9/L',
  'x10^3/uL': '10*3/uL',
  'x10E3/uL': '10*3/uL',
  '10^3/uL': '10*3/uL',
  'K/uL': '10*3/uL',
  'k/uL': '10*3/uL',
  'K/mcL': '10*3/uL',
  'k/mcL': '10*3/uL',
  'x10(3)/uL': '10*3/uL',
  'x10(3)/mcL': '10*3/uL',
  'x10E3/mcL': '10*3/uL',
  'Thousand/uL': '10*3/uL',
  'thousand/uL': '10*3/uL',
  'thou/uL': '10*3/uL',
  'THOU/uL': '10*3/uL',
  'x10E6/uL': '10*6/uL',
  'M/uL': '10*6/uL',
  'mill/uL': '10*6/uL',
  'mIU/ml': 'm[IU]/mL',
  'IU/ml': '[IU]/mL',
  'gm/dL': 'g/dL',
  'gm/dl': 'g/dL',
  'GM/DL': 'g/dL',
  mcg: 'ug',
  'mcg/mL': 'ug/mL',
  'mcg/L': 'ug/L',
  'mcg/dL': 'ug/dL',
  'mcmol/L': 'umol/L',
  'MG/DL': 'mg/dL',
  'cells/uL': '/uL',
  'IU/mL': '[IU]/mL',
  'IU/L': '[IU]/L',
  'mIU/mL': 'm[IU]/mL',
  mmHg: 'mm[Hg]',
  sec: 's',
  secs: 's',
  seconds: 's',
  ratio: '1',
  INR: '{INR}',
  percent: '%',
  lbs: '[lb_av]',
  lb: '[lb_av]',
  in: '[in_i]',
  'mL/min/1.73m2': 'mL/min/{1.73_m2}',
  'mL/min/1.73 m2': 'mL/min/{1.73_m2}',
};

/** Dose units that count units of the product (tablets, capsules): UCUM annotations, dimensionless. */
const UNIT_DOSE =
  /^(\{?(tab|tabs|tablet|tablets|tbl|cap|caps|capsule|capsules|pill|pills)\}?|tablet\(s\)|capsule\(s\))$/i;

/**
 * Whether `unit` is a UCUM code. Every unit a record writes is checked here before the engine sees
 * it (a quantity in any other unit is left out), so this is where record text meets ucum-lhc.
 */
export function isValidUcum(unit: string): boolean {
  let valid = validity.get(unit);
  if (valid === undefined) {
    valid = quietly(() => ucum.validateUnitString(unit).status === 'valid');
    validity.set(unit, valid);
  }
  return valid;
}

/**
 * Runs a ucum-lhc call with console.log silenced: when its parser throws on a unit string, the
 * library writes "Unit requested for unit string <the unit>..." with console.log, which would put
 * record text on stdout, in the middle of the service's JSON log. The call is synchronous, so
 * nothing else runs while console.log is swapped.
 */
function quietly<T>(call: () => T): T {
  const log = console.log;
  console.log = () => undefined;
  try {
    return call();
  } finally {
    console.log = log;
  }
}

/**
 * The UCUM code for a unit as a record writes it, or undefined when it is not recognised.
 * @param unit - `Quantity.code`, else `Quantity.unit`.
 * @param isDose - whether the quantity is a medication dose (tablets, capsules become `{tablet}`).
 */
export function toUcum(unit: string, isDose = false): string | undefined {
  // UCUM spells micro "u"; records often write the micro sign (U+00B5) or Greek mu (U+03BC),
  // e.g. "µmol/L" for creatinine or bilirubin, which UCUM does not parse.
  const trimmed = unit.trim().replace(/[\u00B5\u03BC]/g, 'u');
  if (isDose && UNIT_DOSE.test(trimmed)) return '{tablet}';
  // The lab's spelling first: an alias may also parse as UCUM with another meaning (K/uL).
  const alias = ALIASES[trimmed];
  if (alias !== undefined) return isValidUcum(alias) ? alias : undefined;
  return isValidUcum(trimmed) ? trimmed : undefined;
}
