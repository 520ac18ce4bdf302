import { UNREADABLE_VALUE_URL } from '../shared/unreadable-value.js';
import type {
  Bundle,
  CodeableConcept,
  Condition,
  FhirResource,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Quantity,
} from 'fhir/r4.js';

import { describeDose, type DoseText } from './describe-dose.js';
import { shortLabName } from './lab-names.js';
import { convertUnit, formatNumber, writtenUnit } from './units.js';

const LOINC = 'http://loinc.org';

/**
 * Short, PHI-minimal descriptions of the resources that decided a criterion, for card details:
 * what was measured or recorded, its value and its date. Patient resources are never described
 * (no name, birth date or identifier reaches a card).
 */

/** `Type/id` → resource, for the evidence references of one screening. */
export type ResourceIndex = ReadonlyMap<string, FhirResource>;

/**
 * Indexes a bundle's resources by `Type/id`, the form of the engine's evidence references.
 * @param bundle - the normalised patient bundle the engine evaluated.
 */
export function indexResources(bundle: Bundle): ResourceIndex {
  const index = new Map<string, FhirResource>();
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.id !== undefined) index.set(`${resource.resourceType}/${resource.id}`, resource);
  }
  return index;
}

/** A described piece of evidence: the text shown and the date used to order it (newest first). */
export interface EvidenceLine {
  readonly text: string;
  readonly date?: string;
}

/** Escapes the characters GitHub-flavoured Markdown would interpret in record text. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_[\]<>#|~]/g, (c) => `\\${c}`)
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Record text (a code's text, a value string, a dose's text) shown in a card, at most this many
 * characters: a record can hold megabytes in `code.text`, and a card must stay small (issue 15 item 9).
 */
export const EVIDENCE_TEXT_MAX_CHARS = 80;

/** A described line, at most this many characters (a criterion shows two at most). */
export const EVIDENCE_LINE_MAX_CHARS = 200;

/**
 * Record text made safe and short for a card: cut to `max` characters (whole code points) with an
 * ellipsis, then escaped.
 * @param text - text from the record.
 * @param max - characters kept before escaping.
 */
export function recordText(text: string, max = EVIDENCE_TEXT_MAX_CHARS): string {
  // Only the head of a long text is looked at (a 4 MB code.text is never copied whole).
  const head =
    text.length > max * 4 ? text.slice(0, max * 4).replace(/[\uD800-\uDBFF]$/, '') : text;
  const chars = Array.from(head.replace(/\s+/g, ' ').trim());
  const cut = chars.length > max || head.length < text.length;
  return escapeMarkdown(cut ? `${chars.slice(0, max - 1).join('')}…` : chars.join(''));
}

/** A whole line cut to EVIDENCE_LINE_MAX_CHARS, never inside a Markdown escape. */
function boundLine(line: EvidenceLine): EvidenceLine {
  if (line.text.length <= EVIDENCE_LINE_MAX_CHARS) return line;
  const cut = line.text
    .slice(0, EVIDENCE_LINE_MAX_CHARS - 1)
    .replace(/\\+$/, (s) => (s.length % 2 === 0 ? s : s.slice(1)));
  return { ...line, text: `${cut}…` };
}

/** A card's detail, at most this many characters (whole lines are kept; the rest is summarised). */
export const CARD_DETAIL_MAX_CHARS = 16_000;

/**
 * Joins a card's Markdown lines, keeping whole lines up to `max` characters and saying how many
 * were left out: whatever the record holds, one card stays small.
 * @param lines - the detail's lines.
 * @param max - characters at most.
 */
export function boundedDetail(lines: readonly string[], max = CARD_DETAIL_MAX_CHARS): string {
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    if (length + line.length + 1 > max - 60) {
      kept.push('', `_${lines.length - index} more lines left out: see the record._`);
      break;
    }
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}

function day(value: string | undefined): string | undefined {
  return value === undefined || value.length < 4 ? undefined : value.slice(0, 10);
}

function conceptText(concept: CodeableConcept | undefined): string | undefined {
  const coding = concept?.coding?.find((c) => c.display !== undefined) ?? concept?.coding?.[0];
  return concept?.text ?? coding?.display ?? coding?.code;
}

function quantityText(quantity: Quantity | undefined): string | undefined {
  if (quantity?.value === undefined) return undefined;
  const unit = writtenUnit(quantity.code ?? quantity.unit ?? '');
  return `${quantity.comparator ?? ''}${formatNumber(quantity.value)}${unit === '' ? '' : ` ${unit}`}`;
}

/** A value as shown, and as the record wrote it when that was in another unit. */
interface ShownValue {
  readonly shown: string;
  readonly recorded?: string;
}

/**
 * A quantity in the criterion's unit when the record used another unit of the same kind (118 g/L
 * for a record's 11.8 g/dL), with the record's own value kept as `recorded`.
 */
function quantityInUnit(
  quantity: Quantity | undefined,
  unit: string | undefined,
): ShownValue | undefined {
  const asRecorded = quantityText(quantity);
  if (asRecorded === undefined) return undefined;
  if (unit === undefined || quantity?.value === undefined) return { shown: asRecorded };
  const from = quantity.code ?? quantity.unit;
  const converted =
    from === undefined || from === unit ? undefined : convertUnit(quantity.value, from, unit);
  if (converted === undefined) return { shown: asRecorded };
  const shown = quantityText({ ...quantity, value: converted, code: unit, unit }) ?? asRecorded;
  return { shown, recorded: asRecorded };
}

function observationValue(
  observation: Observation,
  unit: string | undefined,
): ShownValue | undefined {
  if (observation.valueQuantity !== undefined)
    return quantityInUnit(observation.valueQuantity, unit);
  const text = observationText(observation);
  if (text !== undefined) return { shown: text };
  // The record builder left out a value it could not read, and said why (issue 12).
  const unreadable = observation.extension?.find((e) => e.url === UNREADABLE_VALUE_URL);
  return unreadable?.valueString === undefined
    ? undefined
    : { shown: `value unreadable (${unreadable.valueString})` };
}

function observationText(observation: Observation): string | undefined {
  if (observation.valueCodeableConcept !== undefined)
    return conceptText(observation.valueCodeableConcept)?.toLowerCase();
  if (observation.valueInteger !== undefined) return String(observation.valueInteger);
  if (observation.valueBoolean !== undefined) return observation.valueBoolean ? 'yes' : 'no';
  if (observation.valueString !== undefined) return observation.valueString;
  return undefined;
}

function observationName(observation: Observation): string {
  for (const coding of observation.code.coding ?? []) {
    const short =
      coding.system === LOINC && coding.code !== undefined ? shortLabName(coding.code) : undefined;
    if (short !== undefined) return short;
  }
  return shortObservationName(conceptText(observation.code) ?? 'Observation');
}

/**
 * A short name for a narrow sidebar: LOINC long names lose their bracketed property and the
 * specimen/method tail ("Hemoglobin [Mass/volume] in Blood" → "Hemoglobin").
 */
export function shortObservationName(name: string): string {
  const short = name
    .replace(/\s*\[[^\]]*\]/g, '')
    .replace(/\s+(in|by|from)\s.*$/i, '')
    .trim();
  return short === '' ? name : short;
}

function describeObservation(observation: Observation, unit: string | undefined): EvidenceLine {
  const name = observationName(observation);
  const value = observationValue(observation, unit);
  const date = day(
    observation.effectiveDateTime ?? observation.effectivePeriod?.start ?? observation.issued,
  );
  const high = quantityInUnit(observation.referenceRange?.[0]?.high, unit)?.shown;
  const notes = [
    ...(value?.recorded === undefined ? [] : [`recorded as ${value.recorded}`]),
    ...(high === undefined ? [] : [`ULN ${high}`]),
    ...interpretationFlags(observation),
  ];
  const parts = [
    recordText(name),
    value === undefined ? 'no value' : recordText(value.shown),
    ...(notes.length === 0 ? [] : [`(${escapeMarkdown(notes.join('; '))})`]),
  ];
  return {
    text: `${parts.join(' ')}${date === undefined ? '' : `, ${date}`}`,
    ...(date === undefined ? {} : { date }),
  };
}

/** The lab's own flags on a result (H, L, HH, A...): evidence a clinician reads too (issue 12). */
const FLAGGED = new Set(['H', 'HH', 'HU', 'L', 'LL', 'LU', 'A', 'AA']);

function interpretationFlags(observation: Observation): string[] {
  const codes = (observation.interpretation ?? [])
    .flatMap((i) => i.coding ?? [])
    .map((c) => c.code)
    .filter((code): code is string => code !== undefined && FLAGGED.has(code));
  return codes.length === 0 ? [] : [`flagged ${[...new Set(codes)].join(', ')}`];
}

function describeCondition(condition: Condition): EvidenceLine {
  const name = recordText(conceptText(condition.code) ?? 'Condition');
  const onset = day(condition.onsetDateTime ?? condition.onsetPeriod?.start);
  const recorded = day(condition.recordedDate);
  const status = condition.clinicalStatus?.coding?.[0]?.code;
  const when =
    onset !== undefined
      ? `, onset ${onset}`
      : recorded !== undefined
        ? `, recorded ${recorded}`
        : '';
  const date = onset ?? recorded;
  return {
    text: `${name}${when}${status !== undefined && status !== 'active' ? ` (${recordText(status)})` : ''}`,
    ...(date === undefined ? {} : { date }),
  };
}

/** A product name without its strength and form when the dose is given in mass. */
function ingredientName(name: string): string {
  const short = name.replace(/\s+\d[\d.,]*\s*(MG|MCG|G|ML|UNT|MG\/ML)\b.*$/i, '').trim();
  return short === '' ? name : short;
}

function describeMedication(resource: MedicationRequest | MedicationStatement): EvidenceLine {
  const product = conceptText(resource.medicationCodeableConcept) ?? 'Medication';
  let start: string | undefined;
  let end: string | undefined;
  let dose: DoseText | undefined;
  if (resource.resourceType === 'MedicationRequest') {
    const bounds = resource.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod;
    start = day(bounds?.start ?? resource.authoredOn);
    end = day(bounds?.end);
    dose = describeDose(resource.dosageInstruction);
  } else {
    start = day(resource.effectivePeriod?.start ?? resource.effectiveDateTime);
    end = day(resource.effectivePeriod?.end);
    dose = describeDose(resource.dosage);
  }
  const period =
    start === undefined ? '' : end === undefined ? `, since ${start}` : `, ${start} to ${end}`;
  const status = resource.status === 'active' ? '' : ` (${recordText(resource.status)})`;
  const name = recordText(dose?.inMass === true ? ingredientName(product) : product);
  return {
    text: `${name}${dose === undefined ? '' : ` ${recordText(dose.text)}`}${period}${status}`,
    ...(start === undefined ? {} : { date: end ?? start }),
  };
}

/** Elements that name what a resource records, in the order a generic description looks. */
const CODE_ELEMENTS = ['code', 'vaccineCode', 'medicationCodeableConcept', 'type'] as const;

/** Elements that date a resource (a dateTime, or a Period whose end, else start, is used). */
const DATE_ELEMENTS = [
  'performedDateTime',
  'performedPeriod',
  'effectiveDateTime',
  'effectivePeriod',
  'occurrenceDateTime',
  'onsetDateTime',
  'onsetPeriod',
  'authoredOn',
  'recordedDate',
  'issued',
  'date',
] as const;

/**
 * Any other type a retrieve reads (a Procedure, an Immunization, ...): what it records (its code's
 * text) and its date, so that no evidence a new library reads is dropped (issue 16 item 3).
 */
function describeOther(resource: FhirResource): EvidenceLine {
  const fields = resource as unknown as Record<string, unknown>;
  let name: string | undefined;
  for (const element of CODE_ELEMENTS) {
    const value: unknown = fields[element];
    const concept: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
    name = typeof concept === 'object' && concept !== null ? conceptText(concept) : undefined;
    if (name !== undefined) break;
  }
  let date: string | undefined;
  for (const element of DATE_ELEMENTS) {
    const value: unknown = fields[element];
    const text =
      typeof value === 'string'
        ? value
        : typeof value === 'object' && value !== null
          ? ((value as { end?: unknown }).end ?? (value as { start?: unknown }).start)
          : undefined;
    date = typeof text === 'string' ? day(text) : undefined;
    if (date !== undefined) break;
  }
  const status = typeof fields.status === 'string' ? fields.status : undefined;
  const shown = status === undefined || ['completed', 'active', 'final'].includes(status);
  return {
    text: `${recordText(name ?? resource.resourceType)}${date === undefined ? '' : `, ${date}`}${shown ? '' : ` (${recordText(status)})`}`,
    ...(date === undefined ? {} : { date }),
  };
}

/**
 * Describes one evidence resource, or nothing for resources a card must not show (Patient). A
 * type without a description of its own is described by its code's text and date (describeOther).
 * @param resource - a resource from the patient bundle.
 */
export function describeResource(resource: FhirResource, unit?: string): EvidenceLine | undefined {
  switch (resource.resourceType) {
    case 'Observation':
      return describeObservation(resource, unit);
    case 'Condition':
      return describeCondition(resource);
    case 'MedicationRequest':
    case 'MedicationStatement':
      return describeMedication(resource);
    case 'Patient':
      return undefined;
    default:
      return describeOther(resource);
  }
}

/** One piece of evidence described, with the reference it describes. */
export interface DescribedEvidence extends EvidenceLine {
  readonly ref: string;
}

/**
 * Describes the evidence references of a criterion, newest first; the same text once.
 * @param references - `Type/id` references from a CriterionResult.
 * @param index - the bundle's resources.
 * @param unit - the criterion's unit: values in another unit of the same kind are converted to it.
 */
export function describeEvidenceLines(
  references: readonly string[],
  index: ResourceIndex,
  unit?: string,
): readonly DescribedEvidence[] {
  const lines = references.flatMap((ref) => {
    const resource = index.get(ref);
    const line = resource === undefined ? undefined : describeResource(resource, unit);
    return line === undefined ? [] : [{ ...boundLine(line), ref }];
  });
  lines.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  const seen = new Set<string>();
  return lines.filter((l) => !seen.has(l.text) && seen.add(l.text));
}

/**
 * Describes the evidence references of a criterion, newest first, at most `limit` lines.
 * @param references - `Type/id` references from a CriterionResult.
 * @param index - the bundle's resources.
 * @param limit - how many lines to keep.
 * @param unit - the criterion's unit (see describeEvidenceLines).
 */
export function describeEvidence(
  references: readonly string[],
  index: ResourceIndex,
  limit = 3,
  unit?: string,
): readonly string[] {
  return describeEvidenceLines(references, index, unit)
    .slice(0, limit)
    .map((l) => l.text);
}
