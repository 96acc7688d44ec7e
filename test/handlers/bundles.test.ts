import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as os from 'os';
import * as path from 'path';
import { HANDLERS, SDK_LAYER_ASSET as BUILT_LAYER_ASSET, SDK_LAYER_PACKAGE } from '../../projenrc/handlers';
import { HANDLER_SPECS, SDK_LAYER_ASSET } from '../../src/handlers';
import { SDK_LAYER_MODULES } from '../support/sdk-layer';

const ASSETS = path.join(__dirname, '..', '..', 'assets');
const LAYER_PACKAGE_DIR = path.join(SDK_LAYER_MODULES, SDK_LAYER_PACKAGE);

/**
 * Size budget of each handler bundle: our code (and pg for the database steps) only, the SDK being in the layer.
 * 20–124 KiB on 2026-12-04 (`npx projen bench:bundles`); 453–525 KiB while each bundle held its own SDK.
 */
const BUDGET_KIB = 300;

/** Strings every SDK client carries (its user agent, the SigV4 algorithm) and our code never does. */
const SDK_MARKERS = ['aws-sdk-js', 'AWS4-HMAC-SHA256', 'x-amz-user-agent'];

const bundleSource = (name: string) => fs.readFileSync(path.join(ASSETS, name, 'index.js'), 'utf8');
const requiredBy = (source: string) => [...source.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);

describe('handler bundles (what ships in assets/)', () => {
  test('the construct loads exactly the bundles and the layer the build produces', () => {
    expect(HANDLER_SPECS.map((s) => s.asset).sort()).toEqual([...HANDLERS].sort());
    expect(SDK_LAYER_ASSET).toBe(BUILT_LAYER_ASSET);
    expect(fs.readdirSync(ASSETS).sort()).toEqual([...HANDLERS, SDK_LAYER_ASSET].sort());
  });

  test.each(HANDLERS)('%s: a single file exporting handler, requiring only Node built-ins and the SDK layer', (name) => {
    expect(fs.readdirSync(path.join(ASSETS, name))).toEqual(['index.js']);
    const source = bundleSource(name);
    const foreign = requiredBy(source).filter((r) => !r.startsWith('node:') && !BUILTINS.has(r.split('/')[0]) && r !== 'pg-native' && !r.startsWith(`${SDK_LAYER_PACKAGE}/`));
    expect(foreign).toEqual([]);
    // The SDK's ES module builds load Node built-ins with import(): the bundles turn those into require calls.
    expect(source).not.toMatch(/\bimport\(/);
    // Under jest, the layer resolves through the config's modulePaths, as through NODE_PATH on Lambda.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(ASSETS, name, 'index.js'));
    expect(typeof mod.handler).toBe('function');
  });

  test.each(HANDLERS)(`%s: within the size budget (${BUDGET_KIB} KiB) and free of SDK code`, (name) => {
    expect(fs.statSync(path.join(ASSETS, name, 'index.js')).size).toBeLessThanOrEqual(BUDGET_KIB * 1024);
    const source = bundleSource(name);
    for (const marker of SDK_MARKERS) expect(source).not.toContain(marker);
    expect(requiredBy(source).filter((r) => /^@(aws-sdk|smithy)\//.test(r))).toEqual([]);
  });
});

describe('the SDK layer', () => {
  test('holds the SDK code: each module the bundles require, with the SDK markers, and nothing but Node built-ins outside it', () => {
    const files = fs.readdirSync(LAYER_PACKAGE_DIR);
    const required = new Set(HANDLERS.flatMap((h) => requiredBy(bundleSource(h))).filter((r) => r.startsWith(`${SDK_LAYER_PACKAGE}/`)));
    expect(required.size).toBeGreaterThan(0);
    for (const r of required) expect(files).toContain(`${r.slice(SDK_LAYER_PACKAGE.length + 1)}.js`);
    const all = files.filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(LAYER_PACKAGE_DIR, f), 'utf8'));
    for (const marker of SDK_MARKERS) expect(all.some((s) => s.includes(marker))).toBe(true);
    const outside = all.flatMap(requiredBy).filter((r) => !r.startsWith('./') && !r.startsWith('node:') && !BUILTINS.has(r.split('/')[0]));
    // The SDK's CRT signer, required in a try/catch: only SigV4a (multi-region access points) needs it; these APIs do not.
    expect([...new Set(outside)]).toEqual(['@aws-sdk/signature-v4-crt']);
  });

  test('under jest, a layer module resolves to the layer in assets/, not to node_modules', () => {
    expect(require.resolve(`${SDK_LAYER_PACKAGE}/aws-sdk-client-rds`)).toBe(path.join(LAYER_PACKAGE_DIR, 'aws-sdk-client-rds.js'));
  });

  describe('loaded as Lambda loads it: a copy of assets/ outside the repository, the layer on NODE_PATH only', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundles-'));
      fs.cpSync(ASSETS, dir, { recursive: true });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Loads a bundle in a fresh Node process and returns the files it loaded, or what it threw. */
    function load(name: string, nodePath: string | undefined): { loaded?: string[]; handler?: string; error?: string } {
      const script = `try { const m = require(${JSON.stringify(path.join(dir, name, 'index.js'))});`
        + ' console.log(JSON.stringify({ handler: typeof m.handler, loaded: Object.keys(require.cache) }));'
        + ' } catch (e) { console.log(JSON.stringify({ error: e.message })); }';
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
      delete env.NODE_PATH;
      if (nodePath) env.NODE_PATH = nodePath;
      return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' }));
    }

    test.each(HANDLERS)('%s: loads only its bundle and files of the layer', (name) => {
      const result = load(name, path.join(dir, SDK_LAYER_ASSET, 'nodejs', 'node_modules'));
      expect(result.error).toBeUndefined();
      expect(result.handler).toBe('function');
      const layer = path.join(dir, SDK_LAYER_ASSET, 'nodejs', 'node_modules', SDK_LAYER_PACKAGE) + path.sep;
      expect(result.loaded!.filter((f) => f !== path.join(dir, name, 'index.js') && !f.startsWith(layer))).toEqual([]);
      expect(result.loaded!.some((f) => f.startsWith(layer))).toBe(true);
    });

    test('without the layer a bundle does not load: it holds no SDK of its own', () => {
      expect(load('copy-snapshot', undefined).error).toMatch(new RegExp(`Cannot find module '${SDK_LAYER_PACKAGE}/`));
    });
  });
});

const BUILTINS = new Set(builtinModules);
