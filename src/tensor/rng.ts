/**
 * Seeded random numbers (xoshiro128** seeded by splitmix32): uniform, normal (Box–Muller) and
 * truncated normal. Same seed, same sequence, on every backend: values are drawn here and
 * uploaded, so CPU and CUDA runs initialise identically.
 * @module
 */

/**
 * A generator's full state: the four xoshiro128** words and the cached second Box–Muller
 * normal. Plain JSON (save it in a checkpoint's metadata for an exact resume).
 */
export interface RngState {
  /** The four 32-bit state words (not all zero). */
  s: [number, number, number, number];
  /** The pending normal from the last Box–Muller pair, or null. */
  spare: number | null;
}

/** A seeded generator; `fork(k)` derives an independent stream (per worker / per sample). */
export class Rng {
  #s = new Uint32Array(4);
  #spare: number | null = null;

  constructor(seed = 0) {
    let x = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) this.#s[0] = 1;
  }

  /** A copy of the state; `setState` of it reproduces every later draw exactly. */
  state(): RngState {
    const [a, b, c, d] = this.#s;
    return { s: [a, b, c, d], spare: this.#spare };
  }

  /** Restores a state from `state()` (validated); returns this. */
  setState(st: RngState): this {
    const ok = Array.isArray(st?.s) && st.s.length === 4 &&
      st.s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) && st.s.some((w) => w !== 0) &&
      (st.spare === null || Number.isFinite(st.spare));
    if (!ok) {
      throw new Error(
        `Rng.setState: expected {s: four uint32 words, not all 0; spare: number | null}, got ${
          JSON.stringify(st)
        }`,
      );
    }
    this.#s.set(st.s);
    this.#spare = st.spare;
    return this;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal. */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Normal(0, std) resampled until within ±2 std (the ViT / timm convention). */
  truncNormal(std = 1, bound = 2): number {
    for (;;) {
      const v = this.normal();
      if (Math.abs(v) <= bound) return v * std;
    }
  }

  /** An independent generator derived from this one's seed stream and `k`. */
  fork(k = 0): Rng {
    return new Rng((this.nextU32() ^ Math.imul(k + 1, 0x27d4eb2d)) >>> 0);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let globalRng = new Rng(0);

/** Re-seeds the global generator used when no Rng is passed. */
export function manualSeed(seed: number): void {
  globalRng = new Rng(seed);
}

/** The global generator. */
export function defaultRng(): Rng {
  return globalRng;
}
