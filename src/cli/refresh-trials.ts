/**
 * `npm run trials:refresh -- [--dir cql/trials] [--dry-run] STUDY.json...`
 *
 * Updates the registry metadata of trial definitions (title, status, phase, enrollment, sponsor,
 * sites, contacts) from ClinicalTrials.gov API v2 study JSON files, e.g. saved from
 * `https://clinicaltrials.gov/api/v2/studies/<NCT id>`. Eligibility criteria, cohorts, the CQL
 * library and everything else in the definition are left as they are. Every file is read and
 * checked before any definition is written: one bad file writes nothing.
 *
 * Exit codes: 0 done, 2 unusable input or usage, 1 unexpected failure.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadCliConfig, loadDotEnv } from '../config.js';
import { DEFAULT_CQL_DIR } from '../engine/load-engine.js';
import { TrialSchema } from '../domain/trial.js';

/** The fields of an API v2 study record this command reads (others are ignored). */
const Str = z.string().trim().min(1);
export const StudySchema = z.object({
  protocolSection: z.object({
    identificationModule: z.object({
      nctId: z.string().regex(/^NCT\d{8}$/, 'an NCT id (NCT + 8 digits)'),
      briefTitle: Str.optional(),
      officialTitle: Str.optional(),
    }),
    statusModule: z.object({ overallStatus: Str }),
    sponsorCollaboratorsModule: z
      .object({ leadSponsor: z.object({ name: Str }).optional() })
      .optional(),
    designModule: z
      .object({
        phases: z.array(Str).optional(),
        enrollmentInfo: z.object({ count: z.number().int().nonnegative().optional() }).optional(),
      })
      .optional(),
    contactsLocationsModule: z
      .object({
        centralContacts: z
          .array(
            z.object({
              name: Str.optional(),
              role: Str.optional(),
              phone: Str.optional(),
              phoneExt: Str.optional(),
              email: Str.optional(),
            }),
          )
          .optional(),
        locations: z
          .array(
            z.object({
              facility: Str.optional(),
              city: Str.optional(),
              state: Str.optional(),
              country: Str.optional(),
              status: Str.optional(),
            }),
          )
          .optional(),
      })
      .optional(),
  }),
});
export type Study = z.infer<typeof StudySchema>;

/** Input the command cannot use: a message for the user and exit code 2. */
export class RefreshInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefreshInputError';
  }
}

const PHASES: Record<string, string> = {
  EARLY_PHASE1: 'Early phase 1',
  PHASE1: 'Phase 1',
  PHASE2: 'Phase 2',
  PHASE3: 'Phase 3',
  PHASE4: 'Phase 4',
  NA: 'Not applicable',
};

/** `["PHASE1","PHASE2"]` → "Phase 1/2", as the registry shows combined phases. */
export function formatPhase(phases: readonly string[]): string | undefined {
  if (phases.length === 0) return undefined;
  const names = phases.map((p) => PHASES[p] ?? p);
  if (names.length > 1 && names.every((n) => /^Phase \d$/.test(n))) {
    return `Phase ${names.map((n) => n.slice(6)).join('/')}`;
  }
  return names.join(', ');
}

type Json = Record<string, unknown>;

/** The metadata fields a study record gives; a field the record lacks is left out (kept as is). */
export function metadataFromStudy(study: Study): Json {
  const p = study.protocolSection;
  const contacts = p.contactsLocationsModule?.centralContacts;
  const locations = p.contactsLocationsModule?.locations;
  const phase = formatPhase(p.designModule?.phases ?? []);
  const enrollment = p.designModule?.enrollmentInfo?.count;
  const title = p.identificationModule.officialTitle ?? p.identificationModule.briefTitle;
  const sponsor = p.sponsorCollaboratorsModule?.leadSponsor?.name;
  return {
    ...(title === undefined ? {} : { title }),
    status: p.statusModule.overallStatus,
    ...(phase === undefined ? {} : { phase }),
    ...(enrollment === undefined || enrollment === 0 ? {} : { enrollment }),
    ...(sponsor === undefined ? {} : { sponsor }),
    ...(locations === undefined
      ? {}
      : {
          sites: locations.flatMap((l) =>
            l.facility === undefined
              ? []
              : [
                  {
                    facility: l.facility,
                    ...(l.city === undefined
                      ? {}
                      : { city: l.state === undefined ? l.city : `${l.city}, ${l.state}` }),
                    ...(l.country === undefined ? {} : { country: l.country }),
                    ...(l.status === undefined ? {} : { status: l.status }),
                  },
                ],
          ),
        }),
    ...(contacts === undefined
      ? {}
      : {
          contacts: contacts.flatMap((c) =>
            c.name === undefined
              ? []
              : [
                  {
                    name: c.name,
                    ...(c.role === undefined
                      ? {}
                      : { role: c.role.toLowerCase().replace(/_/g, ' ') }),
                    ...(c.phone === undefined
                      ? {}
                      : {
                          phone:
                            c.phoneExt === undefined ? c.phone : `${c.phone} ext. ${c.phoneExt}`,
                        }),
                    ...(c.email === undefined ? {} : { email: c.email }),
                  },
                ],
          ),
        }),
  };
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new RefreshInputError(`${file}: cannot read the ${what} (${(cause as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new RefreshInputError(`${file}: not JSON (${(cause as Error).message})`);
  }
}

/** A study file holds one study, or an API v2 search answer `{ "studies": [...] }`. */
export function readStudies(file: string): Study[] {
  const json = readJson(file, 'study file');
  const list =
    typeof json === 'object' && json !== null && Array.isArray((json as Json).studies)
      ? ((json as Json).studies as unknown[])
      : [json];
  if (list.length === 0) throw new RefreshInputError(`${file}: no study in the file`);
  return list.map((item, i) => {
    const parsed = StudySchema.safeParse(item);
    if (!parsed.success) {
      const where = list.length > 1 ? ` (study ${i + 1})` : '';
      throw new RefreshInputError(
        `${file}${where}: not a ClinicalTrials.gov API v2 study record: ${zodMessage(parsed.error)}`,
      );
    }
    return parsed.data;
  });
}

export interface TrialUpdate {
  readonly trialId: string;
  readonly file: string;
  readonly changed: readonly string[];
  readonly text: string;
}

/** Key order of the definition is kept; the metadata fields are replaced in place. */
function applyMetadata(definition: Json, metadata: Json): { next: Json; changed: string[] } {
  const changed = Object.keys(metadata).filter(
    (k) => JSON.stringify(definition[k]) !== JSON.stringify(metadata[k]),
  );
  const next: Json = { ...definition };
  for (const key of changed) next[key] = metadata[key];
  return { next, changed };
}

async function formatJson(value: Json, file: string): Promise<string> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    // The definitions are prettier-formatted; keep them so when prettier is installed (dev).
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...options, filepath: file });
  } catch {
    return text;
  }
}

/**
 * Computes the updated definitions for the given study files, without writing.
 * @param files - study JSON files.
 * @param dir - the trial definitions directory.
 * @param refreshedAt - recorded as each definition's `refreshedAt` (undefined: left as it is).
 * @throws RefreshInputError for unreadable or invalid files and studies without a definition.
 */
export async function planRefresh(
  files: readonly string[],
  dir: string,
  refreshedAt?: string,
): Promise<TrialUpdate[]> {
  const updates = new Map<string, TrialUpdate>();
  for (const studyFile of files) {
    for (const study of readStudies(studyFile)) {
      const trialId = study.protocolSection.identificationModule.nctId;
      if (updates.has(trialId))
        throw new RefreshInputError(`${studyFile}: ${trialId} is given more than once`);
      const file = join(dir, `${trialId}.json`);
      const definition = readJson(file, `trial definition of ${trialId}`);
      if (typeof definition !== 'object' || definition === null || Array.isArray(definition))
        throw new RefreshInputError(`${file}: not a trial definition`);
      const { next, changed } = applyMetadata(definition as Json, metadataFromStudy(study));
      // The registry was read now, whether or not anything changed (issue 18).
      if (refreshedAt !== undefined) next.refreshedAt = refreshedAt;
      const checked = TrialSchema.safeParse(next);
      if (!checked.success) {
        throw new RefreshInputError(
          `${studyFile}: the updated ${trialId} definition would be invalid: ${zodMessage(checked.error)}`,
        );
      }
      updates.set(trialId, { trialId, file, changed, text: await formatJson(next, file) });
    }
  }
  return [...updates.values()];
}

const USAGE =
  'usage: npm run trials:refresh -- [--dir DIR] [--dry-run] STUDY.json...\n' +
  '  DIR: the trial definitions (default: trials/ of CQL_DIR, the project cql/ when unset)';

/**
 * The command: parses arguments, plans, writes, prints what changed.
 * @param argv - the arguments after the script name.
 * @param env - the environment, read by loadConfig as the service reads it (CQL_DIR).
 * @param now - the time recorded as `refreshedAt`.
 * @returns the exit code.
 */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
  env: Readonly<Record<string, string | undefined>> = process.env,
  now: () => Date = () => new Date(),
): Promise<number> {
  const config = loadCliConfig('trials:refresh', env, (text) => {
    err(text.replace(/\n$/, ''));
  });
  if (config === undefined) return 2;
  let dir = join(config.cqlDir ?? DEFAULT_CQL_DIR, 'trials');
  let dryRun = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--dir') {
      const value = argv[++i];
      if (value === undefined) {
        err(`--dir needs a directory\n${USAGE}`);
        return 2;
      }
      dir = value;
    } else if (arg === '--dry-run') dryRun = true;
    else if (arg === '--help' || arg === '-h') {
      out(USAGE);
      return 0;
    } else if (arg.startsWith('-')) {
      err(`unknown option ${arg}\n${USAGE}`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    err(`no study file given\n${USAGE}`);
    return 2;
  }
  try {
    const refreshedAt = now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const updates = await planRefresh(files, dir, dryRun ? undefined : refreshedAt);
    for (const u of updates) {
      if (!dryRun) writeFileSync(u.file, u.text);
      out(
        `${u.trialId}: ${u.changed.length === 0 ? 'up to date' : `${dryRun ? 'would update' : 'updated'} ${u.changed.join(', ')}`}${dryRun ? '' : ` (refreshedAt ${refreshedAt})`}`,
      );
    }
    if (!dryRun && updates.length > 0)
      out('restart the service (or roll its replicas) to serve the refreshed definitions');
    return 0;
  } catch (error) {
    if (error instanceof RefreshInputError) {
      err(error.message);
      return 2;
    }
    throw error;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  loadDotEnv();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
