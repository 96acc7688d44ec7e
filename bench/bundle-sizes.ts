/**
 * Prints each handler bundle's size as shipped (the SDK's ES module builds, tree-shaken) next to the
 * alternatives measured for the bundling decision: the SDK's CommonJS builds (what shipped before issue 12),
 * the SDK left to the Lambda runtime, the part a cold start loads eagerly (without the credential providers
 * the SDK imports lazily), and one code-split ES module bundle shared by all handlers.
 *
 * Run: `npx projen bench:bundles`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync, BuildOptions, Metafile } from 'esbuild';
import { BUNDLE_OPTIONS, HANDLERS } from '../projenrc/handlers';

const root = path.join(__dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bundles-'));
const entry = (h: string) => path.join(root, 'lambda-src', `${h}.ts`);

/** The shipped settings (mutable copies of their arrays, as esbuild types them), changed by `extra`. */
function options(extra: BuildOptions): BuildOptions {
  return { ...BUNDLE_OPTIONS, mainFields: [...BUNDLE_OPTIONS.mainFields], external: [...BUNDLE_OPTIONS.external], ...extra };
}

function bundle(handler: string, variant: string, extra: BuildOptions): { bytes: number; ms: number; metafile: Metafile } {
  const outfile = path.join(out, `${handler}-${variant}.js`);
  const start = process.hrtime.bigint();
  const result = buildSync({ ...options(extra), entryPoints: [entry(handler)], outfile, metafile: true, logLevel: 'error' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { bytes: fs.statSync(outfile).size, ms, metafile: result.metafile! };
}

/** Bytes of the output that come from modules reachable from the entry without a dynamic `import()`. */
function eagerBytes(handler: string, metafile: Metafile): number {
  const start = path.relative(process.cwd(), entry(handler));
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of metafile.inputs[file]?.imports ?? []) {
      if (i.kind !== 'dynamic-import' && !i.external) stack.push(i.path);
    }
  }
  const output = Object.values(metafile.outputs)[0];
  return Object.entries(output.inputs).filter(([f]) => seen.has(f)).reduce((sum, [, v]) => sum + v.bytesInOutput, 0);
}

const kib = (bytes: number, width: number) => `${(bytes / 1024).toFixed(0).padStart(width)} KiB`;
const totals = { shipped: 0, cjs: 0, ext: 0, eager: 0, ms: 0 };
let largest = 0;
console.log(`${'handler'.padEnd(22)} ${'shipped'.padStart(9)} ${'SDK cjs'.padStart(9)} ${'SDK external'.padStart(13)} ${'eager part'.padStart(11)} ${'esbuild'.padStart(8)}`);
for (const h of HANDLERS) {
  const shipped = bundle(h, 'shipped', {});
  const cjs = bundle(h, 'cjs', { mainFields: ['main', 'module'] });
  const ext = bundle(h, 'ext', { external: [...BUNDLE_OPTIONS.external, '@aws-sdk/*'] });
  const eager = eagerBytes(h, shipped.metafile);
  totals.shipped += shipped.bytes;
  totals.cjs += cjs.bytes;
  totals.ext += ext.bytes;
  totals.eager += eager;
  totals.ms += shipped.ms;
  largest = Math.max(largest, shipped.bytes);
  console.log(`${h.padEnd(22)} ${kib(shipped.bytes, 5)} ${kib(cjs.bytes, 5)} ${kib(ext.bytes, 9)} ${kib(eager, 7)} ${shipped.ms.toFixed(0).padStart(5)} ms`);
}
console.log(`${'total'.padEnd(22)} ${kib(totals.shipped, 5)} ${kib(totals.cjs, 5)} ${kib(totals.ext, 9)} ${kib(totals.eager, 7)} ${totals.ms.toFixed(0).padStart(5)} ms`);
console.log(`largest shipped bundle: ${kib(largest, 0)}`);

// The alternative of one asset for all the functions: ES modules, code-split into shared chunks.
const shared = path.join(out, 'shared');
buildSync({
  ...options({ format: 'esm', splitting: true, outExtension: { '.js': '.mjs' } }),
  entryPoints: HANDLERS.map(entry),
  outdir: shared,
  logLevel: 'error',
});
const sharedFiles = fs.readdirSync(shared);
const sharedBytes = sharedFiles.reduce((sum, f) => sum + fs.statSync(path.join(shared, f)).size, 0);
console.log(`one code-split ES module bundle shared by all handlers: ${kib(sharedBytes, 0)} in ${sharedFiles.length} files`);
fs.rmSync(out, { recursive: true, force: true });
