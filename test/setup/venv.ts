/*
 * Builds the tests' Python venv (moto, cfn-lint) before jest starts: `npx projen test` and `test:e2e` run this
 * first. Otherwise the first test file that starts moto builds it inside its own hook's time limit, which pip
 * on a fresh clone and a busy machine can exceed. Reuses the venv when it is already up to date.
 */
import { DEFAULT_VENV_DIR, ensureVenv } from '../support/venv';

const started = Date.now();
ensureVenv();
console.log(`Python venv for the tests ready in ${DEFAULT_VENV_DIR} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
