/**
 * Prints each handler bundle's size with the AWS SDK bundled (what ships) and with it left to the Lambda
 * runtime, plus the time esbuild takes: the figures behind the README's bundling decision.
 *
 * Run: `npx projen bench:bundles`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';
import { BUNDLE_TARGET, HANDLERS } from '../projenrc/handlers';

const root = path.join(__dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bundles-'));

function bundle(handler: string, externalSdk: boolean): { bytes: number; ms: number } {
  const outfile = path.join(out, `${handler}-${externalSdk ? 'ext' : 'full'}.js`);
  const start = process.hrtime.bigint();
  buildSync({
    entryPoints: [path.join(root, 'lambda-src', `${handler}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: BUNDLE_TARGET,
    minify: true,
    legalComments: 'none',
    external: ['pg-native', ...(externalSdk ? ['@aws-sdk/*'] : [])],
    outfile,
    logLevel: 'error',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { bytes: fs.statSync(outfile).size, ms };
}

let total = 0;
let totalExt = 0;
let totalMs = 0;
console.log(`${'handler'.padEnd(22)} ${'SDK bundled'.padStart(12)} ${'SDK external'.padStart(13)} ${'esbuild'.padStart(9)}`);
for (const h of HANDLERS) {
  const full = bundle(h, false);
  const ext = bundle(h, true);
  total += full.bytes;
  totalExt += ext.bytes;
  totalMs += full.ms;
  console.log(`${h.padEnd(22)} ${(full.bytes / 1024).toFixed(0).padStart(9)} KiB ${(ext.bytes / 1024).toFixed(0).padStart(10)} KiB ${full.ms.toFixed(0).padStart(6)} ms`);
}
console.log(`${'total'.padEnd(22)} ${(total / 1024).toFixed(0).padStart(9)} KiB ${(totalExt / 1024).toFixed(0).padStart(10)} KiB ${totalMs.toFixed(0).padStart(6)} ms`);
fs.rmSync(out, { recursive: true, force: true });
