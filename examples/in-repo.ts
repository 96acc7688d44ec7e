/**
 * Inside this repository the examples import the package by name, as your app does; this resolves that name
 * to the working tree (`src/`). Loaded by examples/app.ts (the app of examples/cdk.json); your own app needs none of it.
 */
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request: string, ...rest: unknown[]) {
  return resolve.call(this, request === 'cdk-aurora-restore-pipeline' ? path.join(__dirname, '..', 'src') : request, ...rest);
};
