/*
 * The Python virtual environment of the tests: moto (the AWS emulator of the e2e tests) and cfn-lint.
 *
 * Created once at `<repo>/.venv` (git-ignored) from PyPI and reused: a marker file records the
 * requirements it was built for, so a second call costs one file read. Safe to call from several jest
 * workers at once (a lock directory serialises the build).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The packages the venv holds, pinned to versions the harness was checked against. */
export const PYTHON_REQUIREMENTS: readonly string[] = [
  'moto[server]==5.2.5',
  'cfn-lint==1.58.0',
];

/** The repository root (this file is `test/support/venv.ts`). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Default location of the venv. */
export const DEFAULT_VENV_DIR = path.join(REPO_ROOT, '.venv');

const MARKER_FILE = '.cdk-aurora-restore-pipeline-requirements';
const LOCK_STALE_MS = 15 * 60 * 1000;
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

/** Options of {@link ensureVenv}. */
export interface EnsureVenvOptions {
  /** Where the venv lives. Default: `$E2E_VENV_DIR` or `<repo>/.venv`. */
  readonly venvDir?: string;
  /** The interpreter that creates the venv. Default: `$E2E_PYTHON` or `python3`. */
  readonly basePython?: string;
  /** The packages to install. Default: {@link PYTHON_REQUIREMENTS}. */
  readonly requirements?: readonly string[];
}

/** Path of the venv's interpreter. */
export function venvPython(venvDir: string): string {
  return process.platform === 'win32'
    ? path.join(venvDir, 'Scripts', 'python.exe')
    : path.join(venvDir, 'bin', 'python');
}

/** Path of an executable installed into the venv, such as `cfn-lint`. */
export function venvBin(venvDir: string, name: string): string {
  return process.platform === 'win32'
    ? path.join(venvDir, 'Scripts', `${name}.exe`)
    : path.join(venvDir, 'bin', name);
}

/** The content of the marker: what the venv must satisfy to be reused. */
function markerFor(requirements: readonly string[]): string {
  const key = JSON.stringify([...requirements].sort());
  return `${createHash('sha256').update(key).digest('hex')}\n${key}\n`;
}

function isReady(venvDir: string, marker: string): boolean {
  try {
    return fs.existsSync(venvPython(venvDir))
      && fs.readFileSync(path.join(venvDir, MARKER_FILE), 'utf8') === marker;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs a command and returns its stdout; on failure throws with the tail of its output and a hint. */
function run(cmd: string, args: string[], hint: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: INSTALL_TIMEOUT_MS });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const output = `${err.stdout ?? ''}\n${err.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${err.message.split('\n')[0]}\n${output}\n${hint}`);
  }
}

function build(venvDir: string, basePython: string, requirements: readonly string[], marker: string): void {
  const python = venvPython(venvDir);
  let usable = false;
  if (fs.existsSync(python)) {
    try {
      execFileSync(python, ['-m', 'pip', '--version'], { stdio: 'ignore' });
      usable = true;
    } catch {
      usable = false;
    }
  }
  if (!usable) {
    fs.rmSync(venvDir, { recursive: true, force: true });
    run(basePython, ['-m', 'venv', venvDir],
      `Could not create a Python venv at ${venvDir}. Install Python >= 3.9 with its venv module `
      + '(Debian/Ubuntu: `apt-get install python3-venv`, which provides ensurepip), or point E2E_PYTHON at such an interpreter.');
  }
  fs.rmSync(path.join(venvDir, MARKER_FILE), { force: true });
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', ...requirements],
    `Could not install ${requirements.join(', ')} from PyPI into ${venvDir}. Check that PyPI is reachable, `
    + `or delete ${venvDir} and try again.`);
  fs.writeFileSync(path.join(venvDir, MARKER_FILE), marker);
}

/**
 * Creates the venv if needed (or brings it to the requirements) and returns the path of its python.
 * Synchronous, so it works from a jest `globalSetup`, a `beforeAll` or a plain script.
 */
export function ensureVenv(options: EnsureVenvOptions = {}): string {
  const venvDir = path.resolve(options.venvDir ?? process.env.E2E_VENV_DIR ?? DEFAULT_VENV_DIR);
  const basePython = options.basePython ?? process.env.E2E_PYTHON ?? 'python3';
  const requirements = options.requirements ?? PYTHON_REQUIREMENTS;
  const marker = markerFor(requirements);
  if (isReady(venvDir, marker)) return venvPython(venvDir);

  fs.mkdirSync(path.dirname(venvDir), { recursive: true });
  const lockDir = `${venvDir}.lock`;
  const deadline = Date.now() + INSTALL_TIMEOUT_MS + 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lockDir).mtimeMs;
      } catch {
        continue; // released between mkdir and stat
      }
      if (age > LOCK_STALE_MS) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for another process to build the venv at ${venvDir} (lock ${lockDir}). `
          + `If no test is running, delete ${lockDir} and try again.`);
      }
      sleepSync(500);
    }
  }
  try {
    if (!isReady(venvDir, marker)) build(venvDir, basePython, requirements, marker);
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
  return venvPython(venvDir);
}

if (require.main === module) {
  process.stdout.write(`${ensureVenv()}\n`);
}
