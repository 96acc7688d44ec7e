/**
 * Prints the npm tarball's size and contents by area, and fails when the package lacks something a consumer
 * needs (lib/, a bundle per handler of projenrc/handlers.ts, the SDK layer with every module a bundle requires from it,
 * .jsii, API.md, README) or ships something it must not (handler sources, tests, examples, benches).
 *
 * Run after `npx projen package:js`: `npx ts-node bench/package-report.ts [dist/js]`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { HANDLERS, SDK_LAYER_ASSET, SDK_LAYER_PACKAGE } from '../projenrc/handlers';

const dir = process.argv[2] ?? path.join(__dirname, '..', 'dist', 'js');
const tarballs = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
if (tarballs.length !== 1) throw new Error(`expected one tarball in ${dir}, found ${tarballs.length}: run npx projen package:js first`);
const tarball = path.join(dir, tarballs[0]);
const listing = execFileSync('tar', ['-tzvf', tarball], { encoding: 'utf8' }).trim().split('\n');
const files = listing.map((line) => {
  const parts = line.trim().split(/\s+/);
  return { size: Number(parts[2]), name: parts.slice(5).join(' ').replace(/^package\//, '') };
});

const areas = new Map<string, { files: number; bytes: number }>();
for (const f of files) {
  const area = f.name.includes('/') ? f.name.split('/')[0] + '/' : f.name;
  const a = areas.get(area) ?? { files: 0, bytes: 0 };
  a.files++; a.bytes += f.size;
  areas.set(area, a);
}
console.log(`${path.relative(process.cwd(), tarball)}: ${(fs.statSync(tarball).size / 1024).toFixed(0)} KiB packed, ${(files.reduce((n, f) => n + f.size, 0) / 1024).toFixed(0)} KiB unpacked, ${files.length} files`);
for (const [area, a] of [...areas].sort((x, y) => y[1].bytes - x[1].bytes)) {
  console.log(`  ${area.padEnd(28)} ${String(a.files).padStart(4)} files ${(a.bytes / 1024).toFixed(0).padStart(6)} KiB`);
}
const bundles = files.filter((f) => /^assets\/[a-z-]+\/index\.js$/.test(f.name));
for (const b of bundles.sort((x, y) => x.name.localeCompare(y.name))) console.log(`  bundle ${b.name.padEnd(40)} ${(b.size / 1024).toFixed(0).padStart(5)} KiB`);
const layerDir = `assets/${SDK_LAYER_ASSET}/nodejs/node_modules/${SDK_LAYER_PACKAGE}/`;
const layer = files.filter((f) => f.name.startsWith(`assets/${SDK_LAYER_ASSET}/`));
console.log(`  SDK layer assets/${SDK_LAYER_ASSET}/ ${String(layer.length).padStart(27)} files ${(layer.reduce((n, f) => n + f.size, 0) / 1024).toFixed(0).padStart(5)} KiB`);

const problems: string[] = [];
const has = (p: RegExp) => files.some((f) => p.test(f.name));
for (const [what, p] of [['lib/index.js', /^lib\/index\.js$/], ['lib/index.d.ts', /^lib\/index\.d\.ts$/], ['.jsii', /^\.jsii$/], ['API.md', /^API\.md$/], ['README.md', /^README\.md$/]] as const) {
  if (!has(p)) problems.push(`missing ${what}`);
}
for (const handler of HANDLERS) {
  if (!bundles.some((b) => b.name === `assets/${handler}/index.js`)) problems.push(`missing the bundle of ${handler} (assets/${handler}/index.js)`);
}
if (bundles.length !== HANDLERS.length) problems.push(`expected ${HANDLERS.length} handler bundles in assets/, found ${bundles.length}`);
// Every layer module a bundle requires, and every chunk a layer file requires, must be in the package.
const contents = execFileSync('tar', ['-xzOf', tarball, ...bundles.map((b) => `package/${b.name}`), ...layer.filter((f) => f.name.endsWith('.js')).map((f) => `package/${f.name}`)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const layerRequire = new RegExp(`require\\("(?:\\./|${SDK_LAYER_PACKAGE}/)([^"]+)"\\)`, 'g');
const needed = new Set([...contents.matchAll(layerRequire)].map((m) => m[1].replace(/\.js$/, '')));
for (const module of needed) {
  if (!layer.some((f) => f.name === `${layerDir}${module}.js`)) problems.push(`the SDK layer lacks ${layerDir}${module}.js, which the bundles or the layer require`);
}
if (needed.size === 0) problems.push(`no bundle requires the SDK layer (${SDK_LAYER_PACKAGE}/...)`);
for (const [what, p] of [['lambda-src/', /^lambda-src\//], ['test/', /^test\//], ['examples/', /^examples\//], ['bench/', /^bench\//], ['src/*.ts', /^src\/.*\.ts$/], ['.ci/', /^\.ci\//]] as const) {
  if (has(p)) problems.push(`ships ${what}`);
}
if (problems.length) {
  console.error(`package check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('package check: ok');
