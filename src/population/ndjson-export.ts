/**
 * A FHIR Bulk Data export (`$export`): NDJSON files per resource type (Patient.ndjson,
 * Condition.ndjson, Observation.ndjson, Observation_2.ndjson, ...), grouped by patient while
 * streaming.
 *
 * Two streaming passes, never the whole export in memory:
 * 1. Index: every line of every file the criteria need is read once (1 MiB chunks) and parsed, and
 *    its byte range is filed under the patient it refers to (`subject`/`patient` reference, or the
 *    Patient's own id). The index holds three numbers per resource (file, offset, length), a few tens
 *    of MB for millions of resources.
 * 2. Per patient: its byte ranges are read back (adjacent ranges coalesced into one read, since
 *    exports are usually written patient by patient) and made into one collection Bundle.
 *
 * An index of byte offsets was chosen over an external sort: it never rewrites the export (an
 * external sort copies every byte to temporary files, twice with the merge), needs no scratch disk,
 * and the second pass reads only the lines the criteria need. Files of resource types the criteria
 * never read (Encounter, Claim, ExplanationOfBenefit, often most of an export) are skipped unread.
 *
 * A line that is not JSON fails the patient it names (found by a pattern on the raw text) or, when no
 * patient can be told, is reported on its own; resources whose Patient is not in the export are
 * reported per missing patient.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ENGINE_RESOURCE_TYPES } from '../fhir/patient-bundle.js';
import type { PopulationItem } from './population-item.js';

/**
 * The resource types read from an export: the patient's types the engine reads (its `reads.types`,
 * from the ELM's retrieves), the Patient, and Medication, shared, looked up by reference.
 */
function readTypesOf(types: readonly string[]): ReadonlySet<string> {
  return new Set(['Patient', ...types, 'Medication']);
}

/** Coalesce ranges of one file closer than this into one read. */
const COALESCE_GAP = 64 * 1024;

interface LineRange {
  readonly offset: number;
  readonly length: number;
  readonly line: number;
}

/** Lines of a file with their byte ranges (a trailing CR is left out), streamed in 1 MiB chunks. */
export async function* readLineRanges(
  path: string,
): AsyncGenerator<LineRange & { readonly bytes: Buffer }> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let pending: Buffer = Buffer.alloc(0);
  let pendingOffset = 0;
  let line = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      line++;
      const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
      yield {
        offset: pendingOffset + start,
        length: end - start,
        line,
        bytes: data.subarray(start, end),
      };
      start = nl + 1;
    }
    pending = data.subarray(start);
    pendingOffset += start;
  }
  if (pending.length > 0) {
    line++;
    yield { offset: pendingOffset, length: pending.length, line, bytes: pending };
  }
}

/** `Patient/1`, `https://x/fhir/Patient/1`, `urn:uuid:1` (Synthea) -> `1`. */
export function patientIdOf(reference: unknown): string | undefined {
  if (typeof reference !== 'string') return undefined;
  // Never an id of dots only: `Patient/..` is a path segment, not a patient (issue 15 item 13).
  const match =
    /(?:^|\/)Patient\/((?!\.+(?:\/|$))[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  if (match !== null) return match[1];
  if (reference.startsWith('urn:uuid:')) return reference.slice('urn:uuid:'.length);
  return undefined;
}

function referenceOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null
    ? (value as { reference?: unknown }).reference
    : undefined;
}

/** The patient a raw (unparseable) line names, if a reference can be seen in its text. */
function patientInRawLine(text: string): string | undefined {
  const match = /"reference"\s*:\s*"([^"]*Patient\/[^"]+|urn:uuid:[^"]+)"/.exec(text);
  return match === null ? undefined : patientIdOf(match[1]);
}

/** Whether a file's name says it holds a resource type the criteria never read. */
function skippedByName(file: string, readTypes: ReadonlySet<string>): boolean {
  const match = /^(?:\d+\.)?([A-Z][A-Za-z]+?)(?:[._-]|\d|$)/.exec(basename(file));
  const type = match?.[1];
  return type !== undefined && !readTypes.has(type);
}

interface PatientEntry {
  hasPatient: boolean;
  /** Flat triples: file index, offset, length. */
  readonly ranges: number[];
  readonly problems: string[];
}

/** Lists the NDJSON files of an export directory, Patient files first. */
export async function listNdjsonFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort();
  const patientFirst = (n: string): number => (/^(?:\d+\.)?Patient[._\d-]/.test(n) ? 0 : 1);
  return names.sort((a, b) => patientFirst(a) - patientFirst(b)).map((n) => join(dir, n));
}

/**
 * Yields one record per Patient in the export (in Patient file order), then failures for resources
 * whose patient is not in the export and for unreadable lines.
 * @param label - how sources are named: `<label>#Patient/<id>`.
 * @param files - the NDJSON files.
 * @param types - the resource types the engine reads (EligibilityEngine.reads.types); default:
 *   ENGINE_RESOURCE_TYPES.
 */
export async function* ndjsonExportItems(
  label: string,
  files: readonly string[],
  types: readonly string[] = ENGINE_RESOURCE_TYPES,
): AsyncGenerator<PopulationItem> {
  const readTypes = readTypesOf(types);
  const patients = new Map<string, PatientEntry>();
  const medications = new Map<string, [number, number, number]>();
  const unattributed: { source: string; message: string }[] = [];
  const wanted = files.filter((f) => !skippedByName(f, readTypes));
  const entryFor = (id: string): PatientEntry => {
    let entry = patients.get(id);
    if (entry === undefined) {
      entry = { hasPatient: false, ranges: [], problems: [] };
      patients.set(id, entry);
    }
    return entry;
  };

  // Pass 1: the index.
  for (const [fileIndex, file] of wanted.entries()) {
    const name = basename(file);
    for await (const { offset, length, line, bytes } of readLineRanges(file)) {
      if (length === 0 || bytes.every((b) => b === 32 || b === 9)) continue;
      const text = bytes.toString('utf8');
      let resource: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new Error('not an object');
        resource = parsed as Record<string, unknown>;
      } catch {
        const owner = patientInRawLine(text);
        const message = `${name} line ${line} is not valid JSON`;
        if (owner === undefined) unattributed.push({ source: `${label}#${name}:${line}`, message });
        else entryFor(owner).problems.push(message);
        continue;
      }
      const type = resource.resourceType;
      if (typeof type !== 'string' || !readTypes.has(type)) continue;
      if (type === 'Medication') {
        if (typeof resource.id === 'string')
          medications.set(`Medication/${resource.id}`, [fileIndex, offset, length]);
        continue;
      }
      const owner =
        type === 'Patient'
          ? typeof resource.id === 'string'
            ? resource.id
            : undefined
          : patientIdOf(referenceOf(resource.subject) ?? referenceOf(resource.patient));
      if (owner === undefined) {
        unattributed.push({
          source: `${label}#${name}:${line}`,
          message: `${name} line ${line}: a ${type} without a patient reference was left out`,
        });
        continue;
      }
      const entry = entryFor(owner);
      if (type === 'Patient') entry.hasPatient = true;
      entry.ranges.push(fileIndex, offset, length);
    }
  }

  const withPatient = [...patients].filter(([, e]) => e.hasPatient);
  yield { kind: 'expect', count: withPatient.length };

  // Pass 2: one patient at a time. Each load opens the files it reads and closes them (loads run
  // concurrently and may outlive this generator).
  const readRanges = async (
    ranges: readonly number[],
    handle: (fileIndex: number) => Promise<FileHandle>,
  ): Promise<unknown[]> => {
    const triples: [number, number, number][] = [];
    for (let i = 0; i < ranges.length; i += 3)
      triples.push([ranges[i] ?? 0, ranges[i + 1] ?? 0, ranges[i + 2] ?? 0]);
    triples.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const resources: unknown[] = [];
    let i = 0;
    while (i < triples.length) {
      const [file, start] = triples[i] as [number, number, number];
      let j = i;
      let end = start + (triples[i]?.[2] ?? 0);
      while (
        j + 1 < triples.length &&
        triples[j + 1]?.[0] === file &&
        (triples[j + 1]?.[1] ?? 0) - end <= COALESCE_GAP
      ) {
        j++;
        const [, o, l] = triples[j] as [number, number, number];
        end = Math.max(end, o + l);
      }
      const buffer = Buffer.allocUnsafe(end - start);
      const fh = await handle(file);
      await fh.read(buffer, 0, buffer.length, start);
      for (let k = i; k <= j; k++) {
        const [, o, l] = triples[k] as [number, number, number];
        resources.push(JSON.parse(buffer.toString('utf8', o - start, o - start + l)));
      }
      i = j + 1;
    }
    return resources;
  };

  {
    for (const [id, entry] of withPatient) {
      const source = `${label}#Patient/${id}`;
      if (entry.problems.length > 0) {
        yield { kind: 'failure', source, patientId: id, message: entry.problems.join('; ') };
        continue;
      }
      yield {
        kind: 'record',
        source,
        load: async () => {
          const handles = new Map<number, Promise<FileHandle>>();
          const handle = (fileIndex: number): Promise<FileHandle> => {
            let h = handles.get(fileIndex);
            if (h === undefined) {
              h = open(wanted[fileIndex] ?? '', 'r');
              handles.set(fileIndex, h);
            }
            return h;
          };
          try {
            const resources = await readRanges(entry.ranges, handle);
            const medicationRanges: number[] = [];
            for (const r of resources) {
              const ref = referenceOf((r as { medicationReference?: unknown }).medicationReference);
              const range = typeof ref === 'string' ? medications.get(ref) : undefined;
              if (range !== undefined) medicationRanges.push(...range);
            }
            if (medicationRanges.length > 0)
              resources.push(...(await readRanges(medicationRanges, handle)));
            return {
              resourceType: 'Bundle',
              type: 'collection',
              entry: resources.map((resource) => ({ resource })),
            };
          } finally {
            for (const h of handles.values())
              await h.then((fh) => fh.close()).catch(() => undefined);
          }
        },
      };
    }
    for (const [id, entry] of patients) {
      if (entry.hasPatient) continue;
      yield {
        kind: 'failure',
        source: `${label}#Patient/${id}`,
        patientId: id,
        message: [
          `${entry.ranges.length / 3} resources refer to a Patient that is not in the export`,
          ...entry.problems,
        ].join('; '),
      };
    }
    for (const failure of unattributed) yield { kind: 'failure', ...failure };
  }
}
