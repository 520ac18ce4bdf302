import { createRequire } from 'node:module';
import { Date as CqlDate, DateTime } from 'cql-execution';
import type { SyncKit } from './sync-kit.js';

/** CQL DateTimes parsed for the patient being evaluated, by FHIR string (cleared per patient). */
const parsedDateTimes = new Map<string, DateTime | null>();
let dateTimeParseCached = false;

/**
 * Parses each FHIR date string once per patient (process-wide patch of `DateTime.parse`, once).
 * cql-exec-fhir turns every FHIR date it reads into a CQL DateTime with `DateTime.parse`, which
 * checks the string's format with luxon (about 7 % of an evaluation); a record repeats the same
 * dates (a panel of results shares its time). Each call still gets its own DateTime: a copy of the
 * one parsed first (the same fields, offset included), so callers that change it change only theirs.
 */
const FHIR_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const FHIR_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?(?:(Z)|([+-])(\d{2}):(\d{2}))?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `DateTime.parse` for the two shapes records are made of (`2024-03-05`,
 * `2024-03-05T10:20:30[.123](Z|+01:00)`) when every field is in range: such a string is one that
 * cql-execution's own check (luxon against the format of that length) accepts, and the DateTime
 * is built from the same fields as cql-execution builds it. Anything else (other precisions, odd
 * offsets, out-of-range fields) returns undefined and goes to cql-execution's parser.
 */
function parseCommonFhirDateTime(value: string): DateTime | undefined {
  const date = FHIR_DATE.exec(value);
  if (date !== null) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month))
      return undefined;
    return new DateTime(year, month, day, undefined, undefined, undefined, undefined);
  }
  const m = FHIR_DATE_TIME.exec(value);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined ||
    second === undefined ||
    year < 1 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysIn(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined;
  const millisecond = m[7] !== undefined ? parseInt(m[7], 10) : undefined;
  // no offset: undefined, which the constructor takes as the host's (as cql-execution's parse does)
  let timezoneOffset: number | undefined;
  if (m[8] === 'Z') {
    timezoneOffset = 0;
  } else if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 14 || ![0, 30, 45].includes(offsetMinutes)) return undefined;
    const offset = offsetHours + offsetMinutes / 60;
    timezoneOffset = m[9] === '+' ? offset : offset * -1;
  }
  return new DateTime(year, month, day, hour, minute, second, millisecond, timezoneOffset);
}

export function cacheDateTimeParsing(): void {
  if (dateTimeParseCached) return;
  dateTimeParseCached = true;
  const parse = DateTime.parse.bind(DateTime) as (value: unknown) => DateTime | null;
  DateTime.parse = (value: unknown): DateTime | null => {
    if (typeof value !== 'string') return parse(value);
    let parsed = parsedDateTimes.get(value);
    if (parsed === undefined) {
      parsed = parseCommonFhirDateTime(value) ?? parse(value) ?? null;
      parsedDateTimes.set(value, parsed);
    }
    return parsed === null ? null : parsed.copy();
  };
}

/** Results of date arithmetic for the patient being evaluated, by operands (cleared per patient). */
const sums = new Map<string, DateLike | null>();

/** What cachedAdd reads of a cql-execution Date or DateTime (datatypes/datetime.js). */
interface DateLike {
  readonly constructor: unknown;
  readonly year?: number | null;
  readonly month?: number | null;
  readonly day?: number | null;
  readonly hour?: number | null;
  readonly minute?: number | null;
  readonly second?: number | null;
  readonly millisecond?: number | null;
  readonly timezoneOffset?: number | null;
  copy(): DateLike;
}
type Add = (this: DateLike, offset: number, field: string) => DateLike | null;
let dateArithmeticCached = false;

/**
 * Computes each distinct date addition once per patient (process-wide patch of cql-execution
 * 3.3.2's `AbstractDate.prototype.add`, once). `Now() - 28 days`, `startAt + 3 months`... go
 * through luxon (a luxon DateTime built, shifted, converted back), about 5 % of an evaluation, and
 * the criteria repeat the same additions. The result of `add` depends only on the class (DateTime
 * or Date), the fields, the offset and the unit; a DateTime without a timezone offset (a Time) is
 * also shifted by the host's current offset, so it is left to the library. Each call still gets
 * its own copy (callers may change theirs), or null as the library returns.
 */
export function cacheDateArithmetic(): void {
  if (dateArithmeticCached) return;
  dateArithmeticCached = true;
  // datatypes/datetime.js AbstractDate, the prototype of DateTime.prototype and Date.prototype
  const abstractDate = Object.getPrototypeOf(DateTime.prototype) as { add: Add };
  const add = abstractDate.add;
  abstractDate.add = function cachedAdd(this: DateLike, offset: number, field: string) {
    if (offset === 0 || this.year == null) return add.call(this, offset, field);
    let key: string;
    const type = this.constructor;
    if (type === DateTime) {
      if (this.timezoneOffset == null) return add.call(this, offset, field);
      key = `T${offset}|${field}|${this.year}|${String(this.month)}|${String(this.day)}|${String(this.hour)}|${String(this.minute)}|${String(this.second)}|${String(this.millisecond)}|${this.timezoneOffset}`;
    } else if (type === CqlDate) {
      key = `D${offset}|${field}|${this.year}|${String(this.month)}|${String(this.day)}`;
    } else {
      return add.call(this, offset, field);
    }
    let sum = sums.get(key);
    if (sum === undefined) {
      sum = add.call(this, offset, field);
      sums.set(key, sum);
    }
    return sum === null ? null : sum.copy();
  };
}

/** Forgets the DateTimes parsed for the previous patient (call when a new patient is loaded). */
export function forgetParsedDateTimes(): void {
  parsedDateTimes.clear();
  sums.clear();
}

/**
 * lib/elm/datetime.js `Now.exec` without a promise (the execution date, as the library returns it;
 * installed by operators.ts, scheme in expressions.ts).
 */
export function installDateTimeOperators({ executeWith }: SyncKit): void {
  const require = createRequire(import.meta.url);
  const datetime = require('cql-execution/lib/elm/datetime.js') as {
    Now: { prototype: { execute: unknown } };
  };
  datetime.Now.prototype.execute = executeWith(
    (_node: unknown, ctx: { getExecutionDateTime(): unknown }): unknown =>
      ctx.getExecutionDateTime(),
  );
}
