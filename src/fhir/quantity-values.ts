/**
 * The numbers of a record's Quantities, made safe for the CQL engine (issue 15 item 5). A value
 * that is not a finite number in range (`"NaN"`, `true`, `1e29`, which overflows CQL's Decimal)
 * made one call answer 500; an implausible one (a negative weight) was read as a real measurement.
 *
 * - A number in range is kept.
 * - A string holding a FHIR decimal (`"0.8"`, a shape some interfaces send) is read as its number:
 *   the writer meant that number, and the unit beside it still has to be understood.
 * - Anything else (another string, a Boolean, NaN, Infinity, a number past ±1e13) is unusable.
 * - A negative value is implausible for what the criteria read (weights, counts, concentrations,
 *   rates, doses) and unusable too, except on a temperature scale.
 *
 * An unusable value leaves the Quantity out: the criterion that reads it is unknown, never failed.
 */

/** FHIR `decimal` as JSON text. {@link https://hl7.org/fhir/R4/datatypes.html#decimal} */
const FHIR_DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * Largest magnitude kept. CQL's Decimal ends at 10^20 and a unit conversion (kg to mg) multiplies by
 * up to 10^6, so 10^13 leaves room; it is still above every count the criteria read in `/L`.
 */
export const MAX_QUANTITY_MAGNITUDE = 1e13;

/** UCUM temperature scales, where a value below zero is a real measurement. */
const SIGNED_UNITS = new Set(['Cel', '[degF]', '[degRe]']);

/** Why a value was left out, for notes (no value is quoted). */
export type UnusableValue = 'not a number' | 'out of range' | 'negative';

/**
 * The usable number of a Quantity's `value`.
 * @param value - `Quantity.value` as received.
 * @param unit - the Quantity's UCUM code (or unit), to allow negative temperatures.
 * @returns the number, undefined when there is no value, or why it is unusable.
 */
export function quantityNumber(
  value: unknown,
  unit: string | undefined,
): number | undefined | { readonly unusable: UnusableValue } {
  if (value === undefined || value === null) return undefined;
  let number: number;
  if (typeof value === 'number') number = value;
  else if (typeof value === 'string' && FHIR_DECIMAL.test(value.trim()))
    number = Number(value.trim());
  else return { unusable: 'not a number' };
  if (!Number.isFinite(number)) return { unusable: 'not a number' };
  if (Math.abs(number) > MAX_QUANTITY_MAGNITUDE) return { unusable: 'out of range' };
  if (number < 0 && (unit === undefined || !SIGNED_UNITS.has(unit)))
    return { unusable: 'negative' };
  return number;
}

/** Whether `Quantity.value` is already a usable number (so the Quantity need not be copied). */
export function isUsableNumber(value: unknown, unit: string | undefined): boolean {
  return (
    value === undefined || (typeof value === 'number' && quantityNumber(value, unit) === value)
  );
}
