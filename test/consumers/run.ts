/**
 * Runs the consumer tests against the packages in dist/ (build them with `npx projen packages`):
 *
 *   npx projen consumers                  # typescript, python, java, go
 *   npx projen consumers python go        # some; typescript runs too, as the reference template
 *
 * Each test works in its own temp folder, deleted afterwards (KEEP_CONSUMER_DIRS=1 keeps them). Prints a
 * PASS / COMPILE-ONLY / FAIL line per language with its time, a table, and exits 1 when any failed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { consumeGo } from './go';
import { consumeJava } from './java';
import { ConsumerContext, ConsumerError, ConsumerResult } from './lib';
import { consumePython } from './python';
import { consumeTypescript } from './typescript';

const TESTS: Record<string, (ctx: ConsumerContext) => ConsumerResult> = {
  typescript: consumeTypescript,
  python: consumePython,
  java: consumeJava,
  go: consumeGo,
};

const unknown = process.argv.slice(2).filter((a) => !(a in TESTS));
if (unknown.length) {
  console.error(`consumers: unknown language ${unknown.join(', ')}; choose from ${Object.keys(TESTS).join(', ')}`);
  process.exit(2);
}
const requested = new Set(process.argv.length > 2 ? ['typescript', ...process.argv.slice(2)] : Object.keys(TESTS));
const languages = Object.keys(TESTS).filter((l) => requested.has(l));

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-arp-consumers-'));
const rows: { language: string; outcome: string; seconds: number }[] = [];
let referenceOutdir: string | undefined;

for (const language of languages) {
  const dir = path.join(root, language);
  fs.mkdirSync(dir);
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  console.log(`\n== consumer ${language}`);
  try {
    const result = TESTS[language]({ dir, referenceOutdir, log: (m) => console.log(`   ${language}: ${m}`) });
    if (language === 'typescript') referenceOutdir = result.outdir;
    for (const note of result.notes ?? []) console.log(`   ${language}: NOTE ${note}`);
    const outcome = result.status === 'pass' ? 'PASS' : 'COMPILE-ONLY';
    console.log(`consumer ${language}: ${outcome} in ${seconds().toFixed(0)} s: ${result.summary}`);
    rows.push({ language, outcome, seconds: seconds() });
  } catch (e) {
    const err = e as Error;
    console.log(`consumer ${language}: FAIL in ${seconds().toFixed(0)} s: ${err.message}`);
    if (err instanceof ConsumerError && err.logFile && fs.existsSync(err.logFile)) {
      const tail = fs.readFileSync(err.logFile, 'utf8').trimEnd().split('\n').slice(-60);
      console.log(`   last lines of ${language}'s log:\n     ${tail.join('\n     ')}`);
    } else if (!(err instanceof ConsumerError)) {
      console.log(err.stack);
    }
    rows.push({ language, outcome: 'FAIL', seconds: seconds() });
  }
}

if (process.env.KEEP_CONSUMER_DIRS) {
  console.log(`\nconsumer folders kept in ${root}`);
} else {
  fs.rmSync(root, { recursive: true, force: true });
}

console.log('\nconsumer      outcome        time');
for (const r of rows) console.log(`${r.language.padEnd(13)} ${r.outcome.padEnd(14)} ${r.seconds.toFixed(0).padStart(4)} s`);
const count = (o: string) => rows.filter((r) => r.outcome === o).length;
console.log(`consumers: ${count('PASS')} passed, ${count('FAIL')} failed, ${count('COMPILE-ONLY')} compile-only`);
process.exit(count('FAIL') ? 1 : 0);
