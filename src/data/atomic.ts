/**
 * Crash-safe file writes. A file is written to a temp beside its target, flushed to disk
 * (fsync), then renamed over the target, and the folder is synced so the rename itself
 * survives a power cut. A failed write removes its temp. Temps are named
 * `<name>.ft-<pid>-<rand>.tmp` and their writer holds an exclusive advisory lock (flock) on
 * them until the rename; staging folders hold one on `<folder>/.ft-lock`. The kernel drops
 * the lock when the writer dies, so a later run can tell the leftovers of a killed writer
 * from a write still in progress, without /proc (which Deno only opens with --allow-all),
 * and remove them (`sweepStaleTemps`).
 * @module
 */
import { basename, dirname, join } from "node:path";

/** Suffix pattern of our temps: `.ft-<pid>-<8 hex>.tmp`. */
const TEMP_RE = /\.ft-(\d+)-[0-9a-f]{8}\.tmp$/;

/** Temp path beside `path` for this process. */
export function tempPathFor(path: string): string {
  return `${path}.ft-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/** True when `name` is one of our temp files (or staging folders, see `stagingPathFor`). */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

function syncDirSync(dir: string): void {
  // A folder's entries (the rename) are durable only once the folder itself is synced. Some
  // file systems refuse fsync on a directory handle; the data is already synced then.
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch { /* best effort, see above */ }
}

function removeQuietSync(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* it may never have been created */ }
}

/** Write `bytes` to `path` atomically (temp + fsync + rename + folder sync), synchronously. */
export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      f.lockSync(true); // a fresh file: never blocks; marks the temp as live until closed
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
      Deno.renameSync(tmp, path); // before close: the temp is never unlocked while it exists
    } finally {
      f.close();
    }
  } catch (e) {
    removeQuietSync(tmp);
    throw e;
  }
  syncDirSync(dirname(path));
}

/** Write `bytes` to `path` atomically (temp + fsync + rename + folder sync). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      f.lockSync(true); // see writeFileAtomicSync
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
      await Deno.rename(tmp, path);
    } finally {
      f.close();
    }
  } catch (e) {
    removeQuietSync(tmp);
    throw e;
  }
  syncDirSync(dirname(path));
}

/** Staging folder beside `dir` for this process: `<dir>.ft-<pid>-<rand>.tmp`. */
export function stagingPathFor(dir: string): string {
  return tempPathFor(dir.replace(/\/+$/, ""));
}

/** Lock file inside a staging folder. */
export const STAGING_LOCK = ".ft-lock";

/**
 * Create folder `dir` (and parents) and hold an exclusive lock on `<dir>/.ft-lock` until the
 * returned handle's `release()`; `release()` first deletes the lock file, so the folder can
 * be renamed into place without it.
 */
export async function createLockedFolder(dir: string): Promise<{ release(): void }> {
  await Deno.mkdir(dir, { recursive: true });
  const f = await Deno.open(join(dir, STAGING_LOCK), { write: true, createNew: true });
  f.lockSync(true);
  let open = true;
  return {
    release() {
      if (!open) return;
      open = false;
      try {
        Deno.removeSync(join(dir, STAGING_LOCK));
      } catch { /* already gone with its folder */ }
      f.close();
    },
  };
}

/** What `sweepStaleTemps` did. */
export interface SweepResult {
  /** Leftovers of dead writers, removed. */
  removed: string[];
  /** Temps left in place: their writer still holds the lock (a run in progress). */
  kept: string[];
}

/** A staging folder without its lock file is this young at most while being set up or moved. */
const UNLOCKED_GRACE_MS = 60_000;

// Is the temp (file, or folder with its lock file) still held by a live writer?
function held(path: string, isDir: boolean): boolean {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(isDir ? join(path, STAGING_LOCK) : path, { read: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) || !isDir) throw e;
    const age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? 0);
    return age < UNLOCKED_GRACE_MS;
  }
  try {
    const got = f.tryLockSync(true);
    if (got) f.unlockSync();
    return !got;
  } finally {
    f.close();
  }
}

/**
 * Remove our temp files and staging folders in `dir` (only those whose name starts with
 * `prefix`, when given) whose writer is gone (its lock was released by the kernel). Temps
 * still locked are listed in `kept`. A missing folder is not an error.
 */
export function sweepStaleTemps(dir: string, prefix = ""): SweepResult {
  const res: SweepResult = { removed: [], kept: [] };
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return res;
    throw e;
  }
  for (const ent of entries) {
    if (!TEMP_RE.test(ent.name) || !ent.name.startsWith(prefix)) continue;
    const path = join(dir, ent.name);
    let live: boolean;
    try {
      live = held(path, ent.isDirectory);
    } catch {
      continue; // vanished meanwhile, or unreadable: not ours to judge
    }
    if (live) res.kept.push(path);
    else {
      removeQuietSync(path);
      res.removed.push(path);
    }
  }
  return res;
}

/** `sweepStaleTemps` for the folder holding `path`, limited to temps of that file name. */
export function sweepTempsOf(path: string): SweepResult {
  return sweepStaleTemps(dirname(path), basename(path) + ".ft-");
}
