/**
 * Prints, per handler, what ships and what a cold start loads, before and after the SDK layer:
 * - before: a self-contained bundle holding its own copy of the SDK (the SDK's ES module builds, tree-shaken), as
 *   shipped until the layer;
 * - after: the handler bundle (our code, and pg for the database steps), the files of the SDK layer it loads at cold
 *   start (its bundle + the layer modules and shared chunks it requires), and the layer as a whole;
 * - the time to `require` the handler in a fresh Node process (median of RUNS), before and after, with the layer
 *   on NODE_PATH as Lambda puts it.
 *
 * Builds both variants into a temporary folder with the shipped settings (projenrc/sdk-layer.ts), not from assets/.
 * Run: `npx projen bench:bundles`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, HANDLERS, SDK_LAYER_ASSET } from '../projenrc/handlers';
import { buildHandlers, buildSdkLayer, LAYER_NODE_MODULES } from '../projenrc/sdk-layer';

const RUNS = 5;
const root = path.join(__dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bundles-'));
const before = path.join(out, 'before');
const after = path.join(out, 'after');
const layerModules = path.join(after, SDK_LAYER_ASSET, LAYER_NODE_MODULES);

const kib = (bytes: number, width = 0) => `${(bytes / 1024).toFixed(0).padStart(width)} KiB`;
const size = (file: string) => fs.statSync(file).size;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Requires `file` in a fresh Node process: the milliseconds it took and the files it loaded. */
function load(file: string, nodePath?: string): { ms: number; files: string[] } {
  const script = 'const t = process.hrtime.bigint();'
    + ` const m = require(${JSON.stringify(file)});`
    + ' const ms = Number(process.hrtime.bigint() - t) / 1e6;'
    + ' if (typeof m.handler !== "function") throw new Error("no handler");'
    + ' console.log(JSON.stringify({ ms, files: Object.keys(require.cache) }));';
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.NODE_PATH;
  if (nodePath) env.NODE_PATH = nodePath;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: out, env, encoding: 'utf8' }));
}

function coldStart(file: string, nodePath?: string): { ms: number; files: string[] } {
  const runs = Array.from({ length: RUNS }, () => load(file, nodePath));
  return { ms: median(runs.map((r) => r.ms)), files: runs[0].files };
}

async function main(): Promise<void> {
  await build({
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    entryPoints: HANDLERS.map((h) => path.join(root, 'lambda-src', `${h}.ts`)),
    outdir: before,
    entryNames: '[name]/index',
    logLevel: 'error',
  });
  const layerFiles = await buildSdkLayer(root, path.join(after, SDK_LAYER_ASSET));
  await buildHandlers(root, after);
  const layerBytes = layerFiles.reduce((n, f) => n + size(path.join(after, SDK_LAYER_ASSET, f)), 0);

  console.log(`SDK layer (assets/${SDK_LAYER_ASSET}): ${kib(layerBytes)} in ${layerFiles.length} files, shared by all ${HANDLERS.length} functions`);
  console.log(`cold start: require() in a fresh Node ${process.version} process, median of ${RUNS}`);
  console.log(`${''.padEnd(22)} ${'before (own SDK)'.padStart(20)}   ${'after (SDK layer)'.padEnd(48)}`);
  console.log(`${'handler'.padEnd(22)} ${'bundle'.padStart(9)} ${'require'.padStart(10)}   ${'bundle'.padStart(9)} ${'loads: bundle + layer'.padStart(30)} ${'require'.padStart(10)}`);
  const totals = { before: 0, after: 0 };
  let largest = 0;
  for (const h of HANDLERS) {
    const old = path.join(before, h, 'index.js');
    const now = path.join(after, h, 'index.js');
    const oldStart = coldStart(old);
    const newStart = coldStart(now, layerModules);
    const layerLoaded = newStart.files.filter((f) => f.startsWith(layerModules + path.sep));
    const loaded = newStart.files.reduce((n, f) => n + size(f), 0);
    totals.before += size(old);
    totals.after += size(now);
    largest = Math.max(largest, size(now));
    const loads = `${kib(loaded, 5)} (${layerLoaded.length} layer files)`;
    console.log(`${h.padEnd(22)} ${kib(size(old), 5)} ${oldStart.ms.toFixed(0).padStart(7)} ms   ${kib(size(now), 5)} ${loads.padStart(30)} ${newStart.ms.toFixed(0).padStart(7)} ms`);
  }
  console.log(`${'total'.padEnd(22)} ${kib(totals.before, 5)} ${''.padStart(10)}   ${kib(totals.after, 5)}`);
  console.log(`largest handler bundle: ${kib(largest)} (before: the SDK in each bundle); shipped in all: ${kib(totals.after + layerBytes)} (before: ${kib(totals.before)})`);
  fs.rmSync(out, { recursive: true, force: true });
}

main().catch((e) => {
  fs.rmSync(out, { recursive: true, force: true });
  console.error(e);
  process.exit(1);
});
