import { JsonFile } from 'projen';
import type { awscdk } from 'projen';

/**
 * The nine Lambda handlers, one per step of the state machine. Each lives in
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
  'archive-snapshot',
  'sns-notification',
];

/**
 * Node version the bundles are compiled for. The functions run on the newest Node.js runtime the
 * consumer's aws-cdk-lib knows (at least nodejs22.x at our aws-cdk-lib floor), so node22 syntax is safe.
 */
export const BUNDLE_TARGET = 'node22';

/**
 * Type-checks `lambda-src/` with its own tsconfig and bundles every handler with esbuild in `pre-compile`,
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

  const entries = handlers.map((h) => `lambda-src/${h}.ts`).join(' ');
  const bundle = project.addTask('bundle', {
    description: 'Bundle every handler with esbuild into assets/<handler>/index.js',
  });
  bundle.exec('rm -rf assets');
  bundle.exec(
    `esbuild ${entries} --bundle --platform=node --format=cjs --target=${BUNDLE_TARGET} --minify `
    + '--external:pg-native --legal-comments=none --log-level=warning '
    + '--outdir=assets --entry-names=[name]/index',
  );

  project.preCompileTask.spawn(typecheck);
  project.preCompileTask.spawn(bundle);
}
