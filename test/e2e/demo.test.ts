/*
 * The demo (`npx projen demo`, the README's first command) keeps working: run as a user runs it, it
 * succeeds, prints every step in order with its progress, and leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PreflightCheckId } from '../../src';
import { REPO_ROOT } from '../support/venv';

jest.setTimeout(600_000);

function demoDirs(): Set<string> {
  return new Set(fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('aurora-restore-demo-')));
}

test('the demo runs the pipeline to SUCCEEDED, step by step, checks the result and cleans up', async () => {
  const before = demoDirs();
  const tsNode = path.join(REPO_ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js');
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, [tsNode, '--transpile-only', '--project', 'tsconfig.dev.json', 'test/e2e/demo.ts'],
      { cwd: REPO_ROOT, timeout: 170_000, maxBuffer: 10 * 1024 * 1024 },
      (err, out) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: out }));
  });
  if (code !== 0) throw new Error(`the demo exited with ${code}:\n${stdout}`);

  // The dry run first: every check passed or not applicable, the execution SUCCEEDED.
  const checks = [...stdout.matchAll(/^ {2}(PASSED|FAILED|SKIPPED) +([a-z]+\.[a-z-]+) /gm)].map((m) => [m[2], m[1]]);
  expect(checks.map(([id]) => id)).toEqual(Object.values(PreflightCheckId));
  expect(checks.filter(([, status]) => status === 'FAILED')).toEqual([]);
  expect(stdout).toMatch(/^Dry run dry-run-[\d-]+ .*\n(?: {2}(?:PASSED|SKIPPED) .*\n)+ {2}SUCCEEDED\n/m);

  const steps = [...stdout.matchAll(/^ +\+[\d.]+ s {2}(\w+)(?: #\d+)? +\d+ ms {2}(.*)$/gm)].map((m) => [m[1], m[2]]);
  expect(steps.map(([s]) => s)).toEqual([
    'SnapshotCheck', 'CopySnapshot', 'CheckCopyStatus', 'CheckCopyStatus', 'CheckCopyStatus',
    'RestoreSnapshot', 'CheckRestoreStatus', 'CheckRestoreStatus', 'CheckRestoreStatus',
    'SetupDbUsers', 'ValidateRestore', 'DeleteKeptPreviousTarget', 'Cutover', 'Cutover', 'Cutover',
    'RetirePreviousTarget', 'RetirePreviousTarget', 'RetirePreviousTarget', 'ArchiveSnapshot', 'NotifySuccess',
  ]);
  expect(steps.find(([s]) => s === 'ValidateRestore')![1]).toBe('3 checks passed: built-in:master-login, built-in:database:app, accounts-present');
  // The swap over the existing staging cluster, and the unavailable time it measured.
  expect(stdout).toMatch(/Cutover #3 +\d+ ms {2}arp-tmp-staging-aurora-[0-9a-f]{8} is now staging-aurora; the previous target is arp-prev-staging-aurora; unavailable \d+ s/);
  expect(stdout).toMatch(/target unavailable \d+ s \(first rename → new cluster available as staging-aurora;/);
  expect(stdout).toMatch(/previous target +arp-prev-staging-aurora deleted, final snapshot arp-final-staging-aurora-demo-/);
  expect(steps.filter(([s]) => /Copy/.test(s)).map(([, text]) => /: (\w+) (\d+)%/.exec(text)!.slice(1).join(' ')))
    .toEqual(['copying 0', 'copying 35', 'copying 80', 'available 100']);
  expect(stdout).toContain('Result: SUCCEEDED');
  expect(stdout).toMatch(/users created +app_rw; updated app_ro/);
  expect(stdout).toMatch(/logins disabled +prod_app, prod_dba \(NOLOGIN, password removed, not dropped\)/);
  expect(stdout).toMatch(/revoked +prod_app from app_ro, prod_readers from app_ro, rds_superuser from app_ro/);
  for (const role of ['prod_dba', 'prod_app', 'app_ro']) expect(stdout).toMatch(new RegExp(`${role} with its production password +cannot log in \\(28P01\\)`));
  expect(stdout).toMatch(/app_ro \(READ_ONLY\) with its secret +logs in; SELECT ok, INSERT denied, CREATE TABLE denied/);
  expect(stdout).toMatch(/clusteradmin with the source's password +cannot log in \(28P01\)/);
  expect(stdout).toContain('secret scan      no password in any');
  expect(stdout).toMatch(/aws dynamodb get-item --table-name AuroraRestoreDemo-RestoreStateTable[0-9A-F]+-[0-9A-F]+ --key/);
  expect(stdout).toMatch(/restore time \(RTO\) +[\d.]+ s {2}from /);
  expect(stdout).toMatch(/snapshot age \(RPO\) +[\d.]+ s {2}the snapshot was taken at /);
  // The demo swaps over last night's staging cluster: the cutover is a phase, and the target was unavailable.
  expect(stdout).toMatch(/target unavailable +\d+ s\n/);
  expect(stdout).toMatch(/phases +copy [\d.]+ s, restore [\d.]+ s, users [\d.]+ s, validation [\d.]+ s, cutover [\d.]+ s/);
  expect(stdout).toMatch(new RegExp('metrics +one embedded-metric-format line in NotifySuccess\'s log: '
    + 'RestoreTime, SnapshotAge, TargetUnavailableTime, CopyTime, RestorePhaseTime, UsersTime, ValidationTime, CutoverTime'));
  expect(stdout).toMatch(/Stopped moto and PostgreSQL, removed the temp files/);
  expect([...demoDirs()].filter((d) => !before.has(d))).toEqual([]);
});
