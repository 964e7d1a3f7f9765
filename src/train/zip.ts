/**
 * A read-only zip reader for PyTorch checkpoints (`torch.save` ≥ 1.6 writes an uncompressed zip):
 * reads the end-of-central-directory record (ZIP64 when the archive or an offset passes 4 GiB),
 * the central directory, and each entry's local header, then hands out byte ranges of an entry
 * by file offset. It never buffers the whole file: entry data is read on demand with
 * positioned reads into a caller's buffer (which may be native engine memory).
 * Stored entries stream; deflated entries (other zip writers) are inflated whole, for small
 * records like `data.pkl`. CRC-32 checks (node:zlib's native crc32) catch corrupted records.
 * @module
 */
import { crc32 as zlibCrc32, inflateRawSync } from "node:zlib";

/** One file inside the archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  /** Bytes in the archive. */
  compressedSize: number;
  /** Bytes after decompression. */
  size: number;
  /** CRC-32 of the uncompressed bytes. */
  crc32: number;
  /** Offset of the local file header. */
  localOffset: number;
}

const SIG_EOCD = 0x06054b50, SIG_Z64_LOC = 0x07064b50, SIG_Z64_EOCD = 0x06064b50;
const SIG_CDIR = 0x02014b50, SIG_LOCAL = 0x04034b50;

/** Continues a CRC-32 (zip/zlib polynomial) over `b`; start with 0. Node's zlib binding runs
 * natively at several GB/s, ~30× a table-driven loop in JavaScript. */
export function crc32(b: Uint8Array, crc = 0): number {
  return zlibCrc32(b, crc) >>> 0;
}

/** Reads exactly `dst.length` bytes at `pos` (positioned, not streaming); throws on a short file. */
export function readFully(file: Deno.FsFile, pos: number, dst: Uint8Array, what: string): void {
  file.seekSync(pos, Deno.SeekMode.Start);
  let off = 0;
  while (off < dst.length) {
    const n = file.readSync(dst.subarray(off));
    if (n === null || n === 0) {
      throw new Error(
        `${what}: unexpected end of file at byte ${pos + off} (wanted ${dst.length - off} more)`,
      );
    }
    off += n;
  }
}

/** An open zip archive; `close()` it (or `using`). */
export class ZipReader {
  /** The file path (for messages). */
  readonly path: string;
  /** File size in bytes. */
  readonly fileSize: number;
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  #file: Deno.FsFile;
  #dataStart = new Map<string, number>();

  /** Opens `path` and reads its central directory; throws naming the file on a malformed archive. */
  constructor(path: string) {
    this.path = path;
    this.#file = Deno.openSync(path, { read: true });
    try {
      this.fileSize = this.#file.statSync().size;
      this.entries = this.#readDirectory();
    } catch (e) {
      this.#file.close();
      throw e;
    }
  }

  #fail(msg: string): never {
    throw new Error(`zip '${this.path}': ${msg}`);
  }

  #read(pos: number, len: number): Uint8Array {
    if (pos < 0 || pos + len > this.fileSize) {
      this.#fail(`needs bytes [${pos}, ${pos + len}) but the file has ${this.fileSize} (truncated?)`);
    }
    const b = new Uint8Array(len);
    readFully(this.#file, pos, b, `zip '${this.path}'`);
    return b;
  }

  #readDirectory(): Map<string, ZipEntry> {
    if (this.fileSize < 22) this.#fail(`${this.fileSize} bytes is too short for a zip archive`);
    const tailLen = Math.min(this.fileSize, 22 + 65535 + 20);
    const tailPos = this.fileSize - tailLen;
    const tail = this.#read(tailPos, tailLen);
    const tv = new DataView(tail.buffer);
    let e = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
        e = i;
        break;
      }
    }
    if (e < 0) this.#fail("no end-of-central-directory record (not a zip, or truncated)");
    let count = tv.getUint16(e + 10, true);
    let cdSize = tv.getUint32(e + 12, true);
    let cdOffset = tv.getUint32(e + 16, true);
    if (tv.getUint16(e + 4, true) !== 0 || tv.getUint16(e + 6, true) !== 0) {
      this.#fail("multi-disk archives are not supported");
    }
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // ZIP64: a locator sits just before the EOCD and points at the ZIP64 EOCD record
      if (e < 20 || tv.getUint32(e - 20, true) !== SIG_Z64_LOC) this.#fail("ZIP64 locator missing");
      const z64 = Number(tv.getBigUint64(e - 20 + 8, true));
      const r = new DataView(this.#read(z64, 56).buffer);
      if (r.getUint32(0, true) !== SIG_Z64_EOCD) this.#fail(`no ZIP64 end record at byte ${z64}`);
      count = Number(r.getBigUint64(32, true));
      cdSize = Number(r.getBigUint64(40, true));
      cdOffset = Number(r.getBigUint64(48, true));
    }
    if (cdOffset + cdSize > this.fileSize) {
      this.#fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end (truncated?)`);
    }
    const cd = this.#read(cdOffset, cdSize);
    const v = new DataView(cd.buffer);
    const dec = new TextDecoder();
    const out = new Map<string, ZipEntry>();
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cdSize || v.getUint32(p, true) !== SIG_CDIR) {
        this.#fail(`central directory entry ${k} is corrupt (at byte ${cdOffset + p})`);
      }
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let csize = v.getUint32(p + 20, true);
      let usize = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true), extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let local = v.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > cdSize) {
        this.#fail(`central directory entry ${k} overruns`);
      }
      const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extra field (id 1): 8-byte values for exactly the fields that overflowed
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = v.getUint16(x, true), len = v.getUint16(x + 2, true);
        if (id === 1) {
          let q = x + 4;
          const next = () => {
            if (q + 8 > x + 4 + len) this.#fail(`entry '${name}': ZIP64 extra field too short`);
            const val = Number(v.getBigUint64(q, true));
            q += 8;
            return val;
          };
          if (usize === 0xffffffff) usize = next();
          if (csize === 0xffffffff) csize = next();
          if (local === 0xffffffff) local = next();
        }
        x += 4 + len;
      }
      if (flags & 1) this.#fail(`entry '${name}' is encrypted`);
      if (method !== 0 && method !== 8) {
        this.#fail(`entry '${name}' uses compression method ${method} (expected 0 stored or 8 deflate)`);
      }
      if (method === 0 && csize !== usize) {
        this.#fail(`stored entry '${name}' has compressed size ${csize} != size ${usize}`);
      }
      if (out.has(name)) this.#fail(`duplicate entry '${name}'`);
      out.set(name, { name, method, compressedSize: csize, size: usize, crc32: crc, localOffset: local });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return out;
  }

  /** The entry called `name`; throws naming the archive if absent. */
  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) this.#fail(`no entry '${name}'`);
    return e;
  }

  /** File offset of an entry's data (after its local header), checked against the file size. */
  dataOffset(e: ZipEntry): number {
    const cached = this.#dataStart.get(e.name);
    if (cached !== undefined) return cached;
    const h = new DataView(this.#read(e.localOffset, 30).buffer);
    if (h.getUint32(0, true) !== SIG_LOCAL) {
      this.#fail(`entry '${e.name}': no local header at byte ${e.localOffset} (corrupt)`);
    }
    const start = e.localOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + e.compressedSize > this.fileSize) {
      this.#fail(
        `entry '${e.name}' data [${start}, ${start + e.compressedSize}) lies past the end of the ` +
          `${this.fileSize}-byte file (truncated?)`,
      );
    }
    this.#dataStart.set(e.name, start);
    return start;
  }

  /** Whole (decompressed, CRC-checked) contents of a small entry. */
  readEntry(name: string): Uint8Array {
    const e = this.entry(name);
    const raw = this.#read(this.dataOffset(e), e.compressedSize);
    let data = raw;
    if (e.method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (err) {
        this.#fail(`entry '${name}': deflate data is corrupt (${(err as Error).message})`);
      }
    }
    if (data.length !== e.size) this.#fail(`entry '${name}': ${data.length} bytes, directory says ${e.size}`);
    const c = crc32(data);
    if (c !== e.crc32) this.#fail(`entry '${name}': CRC-32 ${hex(c)} != ${hex(e.crc32)} (corrupt)`);
    return data;
  }

  /** Reads `dst.length` bytes of a stored entry starting `pos` bytes into its data. */
  readRange(e: ZipEntry, pos: number, dst: Uint8Array): void {
    if (e.method !== 0) this.#fail(`entry '${e.name}' is compressed; tensor records must be stored`);
    if (pos < 0 || pos + dst.length > e.size) {
      this.#fail(`entry '${e.name}': range [${pos}, ${pos + dst.length}) outside its ${e.size} bytes`);
    }
    readFully(this.#file, this.dataOffset(e) + pos, dst, `zip '${this.path}' entry '${e.name}'`);
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/** 8-digit hex for CRC messages. */
export function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}
