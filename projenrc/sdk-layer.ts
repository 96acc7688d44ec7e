import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as esbuild from 'esbuild';
import type { BuildOptions, Plugin } from 'esbuild';
import * as ts from 'typescript';
import { BUNDLE_OPTIONS, HANDLERS, SDK_LAYER_ASSET, SDK_LAYER_PACKAGE } from './handlers';

/**
 * The SDK layer: the AWS SDK code the handlers use, bundled once (from the versions pinned in package-lock.json)
 * into `assets/<SDK_LAYER_ASSET>/nodejs/node_modules/<SDK_LAYER_PACKAGE>/`, where Lambda's Node.js runtime finds it
 * (`/opt/nodejs/node_modules` is on its `NODE_PATH`). One module per SDK import of `lambda-src/` (say
 * `aws-sdk-client-rds.js` for `@aws-sdk/client-rds`), exporting exactly the names the handlers import, so
 * esbuild still tree-shakes; the code they share (smithy core, protocols, credentials) sits in shared chunks.
 * Each handler bundle requires these modules instead of holding its own copy of the SDK, and so loads only the
 * clients it uses.
 */

/** Where a Node.js Lambda layer puts modules for `require` (on the runtime's `NODE_PATH`), inside the asset. */
export const LAYER_NODE_MODULES = path.join('nodejs', 'node_modules');

/** Import specifiers served by the layer: every `@aws-sdk/*` and `@smithy/*` module. */
const SDK_SPECIFIER = /^@(aws-sdk|smithy)\//;

/** The layer module that serves an SDK import, e.g. `@aws-sdk/client-rds` → `aws-sdk-client-rds`. */
export function layerModuleName(specifier: string): string {
  return specifier.replace(/^@/, '').replace(/\//g, '-');
}

/** What `lambda-src/` imports from the SDK at run time: by specifier, the names imported (`*` for a namespace import). */
export function sdkImports(dir: string): Map<string, Set<string>> {
  const imports = new Map<string, Set<string>>();
  const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    // esbuild drops the imports a file uses as types only (as it does when bundling): what remains runs.
    const js = esbuild.transformSync(fs.readFileSync(path.join(dir, file), 'utf8'), { loader: 'ts', format: 'esm', target: BUNDLE_OPTIONS.target }).code;
    const source = ts.createSourceFile(file, js, ts.ScriptTarget.ES2022);
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
      const specifier = statement.moduleSpecifier.text;
      const clause = statement.importClause;
      if (!SDK_SPECIFIER.test(specifier) || !clause || clause.isTypeOnly) continue;
      const names = imports.get(specifier) ?? new Set<string>();
      if (clause.name) names.add('default');
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add('*');
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          if (!element.isTypeOnly) names.add((element.propertyName ?? element.name).text);
        }
      }
      if (names.size > 0) imports.set(specifier, names);
    }
  }
  return imports;
}

/** The source of the layer module of `specifier`: re-exports of the names the handlers import. */
function entrySource(specifier: string, names: Set<string>): string {
  if (names.has('*')) return `export * from ${JSON.stringify(specifier)};`;
  return `export { ${[...names].sort().join(', ')} } from ${JSON.stringify(specifier)};`;
}

/**
 * Builds the layer into `outDir` (the asset folder): an ES module build with code splitting (one entry per SDK
 * import, shared chunks), each file then turned into CommonJS, which the CommonJS handler bundles `require`
 * (on every Node.js runtime, and in jest, which runs CommonJS). Returns the files written, relative to `outDir`.
 */
export async function buildSdkLayer(root: string, outDir: string): Promise<string[]> {
  const imports = sdkImports(path.join(root, 'lambda-src'));
  const pkgDir = path.join(outDir, LAYER_NODE_MODULES, SDK_LAYER_PACKAGE);
  const esmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-layer-'));
  fs.rmSync(outDir, { recursive: true, force: true });
  const virtual: Plugin = {
    name: 'sdk-layer-entries',
    setup(build) {
      build.onResolve({ filter: /^sdk-layer-entry:/ }, (args) => ({ path: args.path.slice('sdk-layer-entry:'.length), namespace: 'sdk-layer-entry' }));
      build.onLoad({ filter: /.*/, namespace: 'sdk-layer-entry' }, (args) => ({
        contents: entrySource(args.path, imports.get(args.path)!),
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
  const options: BuildOptions = {
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    format: 'esm',
    splitting: true,
    entryPoints: Object.fromEntries([...imports.keys()].sort().map((s) => [layerModuleName(s), `sdk-layer-entry:${s}`])),
    outdir: esmDir,
    chunkNames: 'chunk-[hash]',
    plugins: [virtual],
    logLevel: 'warning',
  };
  await esbuild.build(options);
  fs.mkdirSync(pkgDir, { recursive: true });
  const written: string[] = [];
  for (const file of fs.readdirSync(esmDir).sort()) {
    const esm = fs.readFileSync(path.join(esmDir, file), 'utf8');
    const cjs = esbuild.transformSync(esm, { format: 'cjs', target: BUNDLE_OPTIONS.target, platform: 'node', minify: true, legalComments: 'none', logLevel: 'warning' });
    fs.writeFileSync(path.join(pkgDir, file), cjs.code);
    written.push(path.join(LAYER_NODE_MODULES, SDK_LAYER_PACKAGE, file));
  }
  fs.rmSync(esmDir, { recursive: true, force: true });
  const pkg = { name: SDK_LAYER_PACKAGE, private: true, description: 'The AWS SDK code of the cdk-aurora-restore-pipeline handlers, bundled once', versions: sdkVersions(root, [...imports.keys()]) };
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  written.push(path.join(LAYER_NODE_MODULES, SDK_LAYER_PACKAGE, 'package.json'));
  return written;
}

/** The installed version of each SDK package the layer bundles (recorded in the layer's package.json). */
function sdkVersions(root: string, specifiers: string[]): Record<string, string> {
  const packages = [...new Set(specifiers.map((s) => s.split('/').slice(0, 2).join('/')))].sort();
  return Object.fromEntries(packages.map((p) => [p, JSON.parse(fs.readFileSync(path.join(root, 'node_modules', p, 'package.json'), 'utf8')).version]));
}

/**
 * The esbuild plugin of the handler bundles: every SDK import becomes a `require` of its layer module, left
 * external, so that no SDK code enters a handler bundle. An SDK import the layer does not serve fails the build.
 */
export function sdkFromLayer(served: Map<string, Set<string>>): Plugin {
  return {
    name: 'sdk-from-layer',
    setup(build) {
      build.onResolve({ filter: SDK_SPECIFIER }, (args) => {
        if (!served.has(args.path)) {
          return { errors: [{ text: `${args.path} is not in the SDK layer, which serves the SDK modules lambda-src/ imports: import what you need from it in lambda-src/` }] };
        }
        // Side-effect free: a handler that leaves a client unused (lib/clients.ts imports them all) does not load it.
        return { path: `${SDK_LAYER_PACKAGE}/${layerModuleName(args.path)}`, external: true, sideEffects: false };
      });
    },
  };
}

/**
 * Builds the handler bundles into `outDir/<handler>/index.js`, each requiring the SDK from the layer.
 */
export async function buildHandlers(root: string, outDir: string, handlers: string[] = HANDLERS): Promise<void> {
  const served = sdkImports(path.join(root, 'lambda-src'));
  await esbuild.build({
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    entryPoints: handlers.map((h) => path.join(root, 'lambda-src', `${h}.ts`)),
    outdir: outDir,
    entryNames: '[name]/index',
    plugins: [sdkFromLayer(served)],
    logLevel: 'warning',
  });
}

/** `npx projen bundle`: the layer and the handler bundles, into `assets/`. */
async function main(): Promise<void> {
  const root = path.join(__dirname, '..');
  const assets = path.join(root, 'assets');
  fs.rmSync(assets, { recursive: true, force: true });
  await buildSdkLayer(root, path.join(assets, SDK_LAYER_ASSET));
  await buildHandlers(root, assets);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
