/**
 * Builds every language's package into dist/ with projen's package tasks (`package:js`, then `package:python`,
 * `package:java`, `package:go`, `package:dotnet`, as configured in projenrc/packaging.ts), one after the other,
 * and prints each one's build time and the artifacts' sizes. Each task's output goes to a log that is printed
 * when the task fails; the tasks' own `package:<language>:` notices are printed always.
 *
 * Run: `npx projen packages` (after `npx projen compile`).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DIST, kib, REPO, sizeOf } from './lib';

const LANGUAGES = ['js', 'python', 'java', 'go', 'dotnet'];

function artifacts(language: string): string[] {
  const dir = path.join(DIST, language);
  if (!fs.existsSync(dir)) return ['nothing built'];
  const files = (d: string): string[] => fs.readdirSync(d).flatMap((f) => {
    const p = path.join(d, f);
    return fs.statSync(p).isDirectory() ? files(p) : [p];
  });
  const all = files(dir);
  const listed = all.filter((f) => /\.(tgz|whl|tar\.gz|jar|nupkg)$/.test(f));
  const lines = listed.map((f) => `${path.relative(DIST, f)}  ${kib(sizeOf(f))}`);
  if (language === 'go' || (language === 'java' && !all.some((f) => f.endsWith('.jar')))) {
    lines.push(`${path.relative(REPO, dir)}/ (sources)  ${all.length} files, ${kib(sizeOf(dir))}`);
  }
  return lines;
}

const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-arp-packages-'));
const rows: { language: string; ok: boolean; result: string; seconds: number }[] = [];
for (const language of LANGUAGES) {
  const log = path.join(logs, `${language}.log`);
  const started = Date.now();
  console.log(`== package:${language}`);
  const child = spawnSync('npx', ['projen', `package:${language}`], {
    cwd: REPO,
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const output = `${child.stdout ?? ''}${child.stderr ?? ''}`;
  fs.writeFileSync(log, output);
  const seconds = (Date.now() - started) / 1000;
  const ok = child.status === 0;
  const notices = output.split('\n').filter((l) => l.startsWith(`package:${language}:`));
  for (const line of notices) console.log(`   ${line}`);
  const result = !ok ? 'FAILED' : notices.some((l) => l.includes('SKIPPED')) ? 'skipped' : notices.some((l) => l.includes('NOT BUILT')) ? 'sources only' : 'ok';
  rows.push({ language, ok, result, seconds });
  if (!ok) {
    console.log(`package:${language}: FAILED (exit ${child.status ?? child.signal}); last lines of its output:`);
    console.log(`     ${output.trimEnd().split('\n').slice(-60).join('\n     ')}`);
  }
  for (const line of artifacts(language)) console.log(`   ${line}`);
  console.log(`package:${language}: ${result} in ${seconds.toFixed(0)} s`);
}
fs.rmSync(logs, { recursive: true, force: true });

console.log('\npackage       result        time');
for (const r of rows) console.log(`${r.language.padEnd(13)} ${r.result.padEnd(13)} ${r.seconds.toFixed(0).padStart(4)} s`);
const failed = rows.filter((r) => !r.ok).map((r) => r.language);
if (failed.length) {
  console.log(`packages: ${failed.join(', ')} failed`);
  process.exit(1);
}
