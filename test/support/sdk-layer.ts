/*
 * Local runs resolve the handlers' SDK as Lambda does: from the SDK layer's `nodejs/node_modules`, which Lambda's
 * Node.js runtime puts on NODE_PATH (/opt/nodejs/node_modules). Under jest, the `modulePaths` of the jest config
 * names the same folder; a plain Node process (a bench, the demo) calls `useSdkLayer()` before loading a bundle.
 */
import Module from 'node:module';
import * as path from 'node:path';
import { SDK_LAYER_ASSET } from '../../src/handlers';

/** The layer's module folder in `assets/`: what Lambda mounts as /opt/nodejs/node_modules. */
export const SDK_LAYER_MODULES = path.join(__dirname, '..', '..', 'assets', SDK_LAYER_ASSET, 'nodejs', 'node_modules');

/** Puts the SDK layer on this process's NODE_PATH, as Lambda's runtime does (no-op when it already is). */
export function useSdkLayer(): void {
  const paths = (process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);
  if (paths.includes(SDK_LAYER_MODULES)) return;
  process.env.NODE_PATH = [...paths, SDK_LAYER_MODULES].join(path.delimiter);
  // Node reads NODE_PATH once at start-up; its (undocumented, long-stable) _initPaths re-reads it.
  (Module as unknown as { _initPaths(): void })._initPaths();
}
