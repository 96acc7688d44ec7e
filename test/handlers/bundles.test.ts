import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import { HANDLERS } from '../../projenrc/handlers';
import { HANDLER_SPECS } from '../../src/handlers';

const ASSETS = path.join(__dirname, '..', '..', 'assets');

/**
 * Size budget of each bundle. The SDK's tree-shaken ES module builds give 453–521 KiB (`npx projen bench:bundles`, 2026-12-04;
 * 684–884 KiB from its CommonJS builds). Below that is SDK code every client loads at start-up (modeled errors,
 * protocol and credential code), which esbuild settings alone cannot drop. The five handlers that assume the source
 * account's role also carry @aws-sdk/client-sts: 461–553 KiB, the largest SnsNotification (bench:bundles, 2026-12-04).
 */
const BUDGET_KIB = 560;

describe('handler bundles (what ships in assets/)', () => {
  test('the construct loads exactly the bundles the build produces', () => {
    expect(HANDLER_SPECS.map((s) => s.asset).sort()).toEqual([...HANDLERS].sort());
  });

  test.each(HANDLERS)('%s: a single self-contained file exporting handler', (name) => {
    const dir = path.join(ASSETS, name);
    expect(fs.readdirSync(dir)).toEqual(['index.js']);
    // Load it the way Lambda does; it must not need anything from node_modules but the runtime's own modules.
    const source = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
    const required = [...source.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    const foreign = required.filter((r) => !r.startsWith('node:') && !BUILTINS.has(r.split('/')[0]) && !OPTIONAL.has(r));
    expect(foreign).toEqual([]);
    // The SDK's ES module builds load Node built-ins with import(): the bundle turns those into require calls.
    expect(source).not.toMatch(/\bimport\(/);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, 'index.js'));
    expect(typeof mod.handler).toBe('function');
  });

  test.each(HANDLERS)(`%s: within the size budget (${BUDGET_KIB} KiB)`, (name) => {
    expect(fs.statSync(path.join(ASSETS, name, 'index.js')).size).toBeLessThanOrEqual(BUDGET_KIB * 1024);
  });
});

const BUILTINS = new Set(builtinModules);
/**
 * Optional modules the bundled code requires inside a try/catch: pg's native binding (pg-native, external by
 * design) and the SDK's CRT signer, which only SigV4a (multi-region access points) needs; these APIs do not.
 */
const OPTIONAL = new Set(['pg-native', '@aws-sdk/signature-v4-crt']);
