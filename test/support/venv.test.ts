/*
 * The Python venv of the tests: built once, reused while its requirements are unchanged, repaired when broken.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_VENV_DIR, ensureVenv, PYTHON_REQUIREMENTS, venvBin, venvPython } from './venv';

jest.setTimeout(600_000);

const MARKER = '.cdk-aurora-restore-pipeline-requirements';

test('the project venv holds the pinned moto and cfn-lint and is reused as it is', () => {
  const python = ensureVenv();
  expect(python).toBe(venvPython(DEFAULT_VENV_DIR));
  const markerStat = fs.statSync(path.join(DEFAULT_VENV_DIR, MARKER));

  const versions = execFileSync(python, ['-c', 'import importlib.metadata as m; print(m.version("moto"), m.version("cfn-lint"))'], { encoding: 'utf8' }).trim();
  const pinned = PYTHON_REQUIREMENTS.map((r) => r.split('==')[1]).join(' ');
  expect(versions).toBe(pinned);
  expect(execFileSync(venvBin(DEFAULT_VENV_DIR, 'cfn-lint'), ['--version'], { encoding: 'utf8' })).toContain(PYTHON_REQUIREMENTS[1].split('==')[1]);

  expect(ensureVenv()).toBe(python);
  expect(fs.statSync(path.join(DEFAULT_VENV_DIR, MARKER)).mtimeMs).toBe(markerStat.mtimeMs);
});

describe('a venv of its own', () => {
  let dir: string;
  beforeAll(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-venv-')), 'venv');
  });
  afterAll(() => {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  // `pip` and `setuptools` come with every venv of Python 3.11, so these installs need no download.
  test('is created, reused, brought to changed requirements, and rebuilt when its interpreter is gone', () => {
    const python = ensureVenv({ venvDir: dir, requirements: ['pip'] });
    expect(fs.existsSync(python)).toBe(true);
    const marker = path.join(dir, MARKER);
    const first = fs.readFileSync(marker, 'utf8');
    expect(first).toContain('["pip"]');

    const mtime = fs.statSync(marker).mtimeMs;
    ensureVenv({ venvDir: dir, requirements: ['pip'] });
    expect(fs.statSync(marker).mtimeMs).toBe(mtime);

    const pythonStat = fs.lstatSync(python);
    ensureVenv({ venvDir: dir, requirements: ['setuptools', 'pip'] });
    expect(fs.readFileSync(marker, 'utf8')).toContain('["pip","setuptools"]');
    expect(fs.lstatSync(python).ino).toBe(pythonStat.ino);

    fs.rmSync(python);
    expect(ensureVenv({ venvDir: dir, requirements: ['setuptools', 'pip'] })).toBe(python);
    expect(execFileSync(python, ['-c', 'print(1 + 1)'], { encoding: 'utf8' }).trim()).toBe('2');
  });

  test('says how to fix a missing interpreter', () => {
    expect(() => ensureVenv({ venvDir: path.join(path.dirname(dir), 'other'), basePython: 'no-such-python3', requirements: ['pip'] }))
      .toThrow(/Could not create a Python venv .* E2E_PYTHON/s);
  });
});
