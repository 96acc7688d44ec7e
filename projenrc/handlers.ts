import { JsonFile } from 'projen';
import type { awscdk } from 'projen';

/**
 * The Lambda handlers, one per step of the state machine. Each lives in
 * `lambda-src/<name>.ts` and is bundled to `assets/<name>/index.js`.
 */
export const HANDLERS = [
  'snapshot-check',
  'copy-snapshot',
  'check-copy-status',
  'delete-rds',
  'restore-snapshot',
  'check-restore-status',
  'setup-db-users',
  'validate-restore',
  'cutover',
  'archive-snapshot',
  'sns-notification',
];

/**
 * The SDK layer's asset folder under `assets/` (shipped in the npm package like the handler bundles): see
 * projenrc/sdk-layer.ts. src/handlers.ts loads it by the same name.
 */
export const SDK_LAYER_ASSET = 'sdk-layer';

/**
 * The package name the handler bundles `require` the SDK layer's modules by. Ours, not `@aws-sdk/...`: a handler
 * can then only ever load the SDK of the layer, never the copy in the Lambda runtime (or, in local runs, in the
 * repository's node_modules).
 */
export const SDK_LAYER_PACKAGE = 'aurora-restore-pipeline-sdk';

/**
 * Node version the bundles are compiled for. The functions run on the newest Node.js runtime the
 * consumer's aws-cdk-lib knows (at least nodejs22.x at our aws-cdk-lib floor), so node22 syntax is safe.
 */
export const BUNDLE_TARGET = 'node22';

/**
 * The esbuild settings of every handler bundle and of the SDK layer: projenrc/sdk-layer.ts (the `bundle` task) and
 * `bench/bundle-sizes.ts` both read them.
 *
 * `mainFields: ['module', 'main']` makes esbuild take the SDK's ES module builds (`dist-es`), which it can
 * tree-shake, instead of the CommonJS builds (`dist-cjs`, one file per package, kept whole): the same SDK
 * version and source, 35–45 % smaller bundles. The output stays CommonJS, loaded by Lambda as `index.handler`.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: BUNDLE_TARGET,
  minify: true,
  mainFields: ['module', 'main'],
  // pg's optional native binding: pg requires it in a try/catch and falls back to its JavaScript client.
  external: ['pg-native'],
  legalComments: 'none',
  // The ES module builds load some Node built-ins lazily (`await import('node:http')`); as `require` they load
  // the same module, as the CommonJS builds do, also in a host without ES module support for `import()` (jest's vm).
  supported: { 'dynamic-import': false },
} as const;

/**
 * Type-checks `lambda-src/` with its own tsconfig and bundles the SDK layer and every handler (projenrc/sdk-layer.ts) in `pre-compile`,
 * so `assets/` exists before jsii compiles, before tests run, and before `npm pack`.
 */
export function configureHandlerBuild(project: awscdk.AwsCdkConstructLibrary, handlers: string[]) {
  new JsonFile(project, 'lambda-src/tsconfig.json', {
    obj: {
      compilerOptions: {
        target: 'ES2022',
        lib: ['es2022'],
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        noImplicitAny: true,
        noImplicitReturns: true,
        noUnusedLocals: true,
        noUnusedParameters: true,
        noFallthroughCasesInSwitch: true,
        esModuleInterop: true,
        skipLibCheck: true,
        resolveJsonModule: true,
        noEmit: true,
        types: ['node'],
      },
      include: ['./**/*.ts', '../src/contracts.ts', '../src/db-names.ts'],
    },
  });

  const typecheck = project.addTask('lambda:typecheck', {
    description: 'Type-check the Lambda handlers (lambda-src/) with their own tsconfig',
    exec: 'tsc -p lambda-src/tsconfig.json',
  });

  const bundle = project.addTask('bundle', {
    description: `Bundle the SDK layer into assets/${SDK_LAYER_ASSET}/ and every handler (${handlers.length}) with esbuild into assets/<handler>/index.js`,
  });
  bundle.exec('ts-node --transpile-only --project tsconfig.dev.json projenrc/sdk-layer.ts');

  project.preCompileTask.spawn(typecheck);
  project.preCompileTask.spawn(bundle);
}
