/**
 * Crash-safe file writes. A file is written to a temp beside its target, flushed to disk
 * (fsync), then renamed over the target, and the folder is synced so the rename itself
 * survives a power cut. A failed write removes its temp. Temps carry the writer's pid
 * (`<name>.ft-<pid>-<rand>.tmp`) so a later run can tell the leftovers of a killed writer
 * from a write still in progress and remove them (`sweepStaleTemps`).
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
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
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
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
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

/**
 * Is process `pid` alive? true / false, or null when this process may not look (no read
 * access to /proc, or not Linux).
 */
function pidAlive(pid: number): boolean | null {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      try {
        Deno.statSync("/proc/self");
        return false; // /proc works here and the pid is gone
      } catch {
        return null;
      }
    }
    return null;
  }
}

/** What `sweepStaleTemps` did. */
export interface SweepResult {
  /** Leftovers of dead writers, removed. */
  removed: string[];
  /** Temps left in place: their writer may be alive, or its liveness could not be checked. */
  kept: string[];
}

/** Temps older than this are stale even when the writer's liveness cannot be checked. */
const STALE_AGE_MS = 3600_000;

/**
 * Remove our temp files and staging folders in `dir` (only those whose name starts with
 * `prefix`, when given) whose writer process is gone. When /proc cannot be read, a temp
 * older than an hour counts as stale; younger ones are kept and listed in `kept`.
 * A missing folder is not an error.
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
    const m = TEMP_RE.exec(ent.name);
    if (!m || !ent.name.startsWith(prefix)) continue;
    const path = join(dir, ent.name);
    const pid = Number(m[1]);
    let alive = pidAlive(pid);
    if (alive === null) {
      try {
        const age = Date.now() - (Deno.lstatSync(path).mtime?.getTime() ?? Date.now());
        alive = age < STALE_AGE_MS ? null : false;
      } catch {
        continue; // vanished meanwhile
      }
    }
    if (alive === false && pid !== Deno.pid) {
      removeQuietSync(path);
      res.removed.push(path);
    } else if (pid !== Deno.pid) res.kept.push(path);
  }
  return res;
}

/** `sweepStaleTemps` for the folder holding `path`, limited to temps of that file name. */
export function sweepTempsOf(path: string): SweepResult {
  return sweepStaleTemps(dirname(path), basename(path) + ".ft-");
}
