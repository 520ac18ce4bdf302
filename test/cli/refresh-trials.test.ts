import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPhase, main } from '../../src/cli/refresh-trials.js';
import { TrialSchema } from '../../src/domain/trial.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(ROOT, 'test/cli/fixtures/NCT07339332.study.json');
const REAL = join(ROOT, 'cql/trials/NCT07339332.json');

const NOW = new Date('2026-12-01T08:30:00.123Z');
const RESTART = 'restart the service (or roll its replicas) to serve the refreshed definitions';

async function refresh(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
    {},
    () => NOW,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('trials:refresh', () => {
  let dir: string;
  beforeEach(() => {
    // Never on the real definitions: a temporary copy.
    dir = mkdtempSync(join(tmpdir(), 'refresh-trials-'));
    copyFileSync(REAL, join(dir, 'NCT07339332.json'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('formatPhase', () => {
    it('writes registry phases as people read them', () => {
      expect(formatPhase(['EARLY_PHASE1'])).toBe('Early phase 1');
      expect(formatPhase(['PHASE1', 'PHASE2'])).toBe('Phase 1/2');
      expect(formatPhase(['NA'])).toBe('Not applicable');
      expect(formatPhase([])).toBeUndefined();
    });
  });

  describe('a valid study file', () => {
    it('updates metadata and leaves criteria and everything else as they were', async () => {
      const before = JSON.parse(readFileSync(join(dir, 'NCT07339332.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const result = await refresh(['--dir', dir, FIXTURE]);
      expect(result).toEqual({
        code: 0,
        out: `NCT07339332: updated status, enrollment, sponsor, sites, contacts (refreshedAt 2026-12-01T08:30:00Z)\n${RESTART}`,
        err: '',
      });
      const after = JSON.parse(readFileSync(join(dir, 'NCT07339332.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(TrialSchema.safeParse(after).success).toBe(true);
      expect(after).toEqual({
        ...before,
        refreshedAt: '2026-12-01T08:30:00Z',
        status: 'ACTIVE_NOT_RECRUITING',
        enrollment: 15,
        sponsor: 'Example Cell Therapy Hospital',
        sites: [
          {
            facility: 'Example University Hospital',
            city: 'Hangzhou, Zhejiang',
            country: 'China',
            status: 'RECRUITING',
          },
        ],
        contacts: [
          {
            name: 'Example Coordinator',
            role: 'contact',
            phone: '+86 00 0000 0000 ext. 12',
            email: 'coordinator@example.org',
          },
        ],
      });
      expect(Object.keys(after)).toEqual([
        ...Object.keys(before),
        ...(before.sponsor === undefined ? ['sponsor'] : []),
        ...(before.refreshedAt === undefined ? ['refreshedAt'] : []),
      ]);
    });

    it('reports up to date on a second run and changes nothing with --dry-run', async () => {
      const file = join(dir, 'NCT07339332.json');
      const original = readFileSync(file, 'utf8');
      expect((await refresh(['--dir', dir, '--dry-run', FIXTURE])).out).toMatch(/would update/);
      expect(readFileSync(file, 'utf8')).toBe(original);
      await refresh(['--dir', dir, FIXTURE]);
      // Up to date, and the date it was checked is recorded (issue 18).
      expect((await refresh(['--dir', dir, FIXTURE])).out).toBe(
        `NCT07339332: up to date (refreshedAt 2026-12-01T08:30:00Z)\n${RESTART}`,
      );
    });

    it('accepts an API v2 search answer holding several studies', async () => {
      const search = join(dir, 'search.json');
      writeFileSync(
        search,
        JSON.stringify({ studies: [JSON.parse(readFileSync(FIXTURE, 'utf8'))] }),
      );
      expect((await refresh(['--dir', dir, search])).code).toBe(0);
    });
  });

  describe('bad input', () => {
    it.each([
      ['a missing file', () => join(dir, 'missing.json'), /cannot read the study file/],
      [
        'a file that is not JSON',
        () => {
          writeFileSync(join(dir, 'bad.json'), '{ not json');
          return join(dir, 'bad.json');
        },
        /not JSON/,
      ],
      [
        'a record without an NCT id',
        () => {
          writeFileSync(
            join(dir, 'no-id.json'),
            JSON.stringify({ protocolSection: { statusModule: { overallStatus: 'RECRUITING' } } }),
          );
          return join(dir, 'no-id.json');
        },
        /not a ClinicalTrials.gov API v2 study record: protocolSection.identificationModule/,
      ],
      [
        'a study with no trial definition',
        () => {
          const study = JSON.parse(readFileSync(FIXTURE, 'utf8'));
          study.protocolSection.identificationModule.nctId = 'NCT00000001';
          writeFileSync(join(dir, 'other.json'), JSON.stringify(study));
          return join(dir, 'other.json');
        },
        /cannot read the trial definition of NCT00000001/,
      ],
    ])('exits 2 with a clear message for %s, writing nothing', async (_name, makeFile, message) => {
      const file = join(dir, 'NCT07339332.json');
      const original = readFileSync(file, 'utf8');
      const result = await refresh(['--dir', dir, FIXTURE, makeFile()]);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(message);
      expect(readFileSync(file, 'utf8')).toBe(original);
    });

    it('exits 2 without a study file or with an unknown option', async () => {
      expect((await refresh([])).code).toBe(2);
      expect((await refresh(['--force', FIXTURE])).code).toBe(2);
    });

    it('exits 2 from the npm script entry point', () => {
      let status = 0;
      let stderr = '';
      try {
        execFileSync(
          join(ROOT, 'node_modules/.bin/tsx'),
          ['src/cli/refresh-trials.ts', '--dir', dir, join(dir, 'missing.json')],
          { cwd: ROOT, stdio: 'pipe' },
        );
      } catch (error) {
        status = (error as { status: number }).status;
        stderr = String((error as { stderr: Buffer }).stderr);
      }
      expect(status).toBe(2);
      expect(stderr).toContain('missing.json: cannot read the study file');
    });
  });
});
