/**
 * Pixel-level helpers for truthful, shortcut-free edits:
 * - `visibleChange`: how much an edit changed a set of pixels once fine grain is averaged out
 *   (max-channel |low-pass(after − before)| in grey levels, averaged), the check behind every fact;
 * - `smoothFill`: a MAT-like smooth hole fill (push-pull pyramid interpolation from the pixels
 *   around the hole), instead of block copies that leave seams;
 * - `regrain`: white grain matched to the fine residual around a hole, so a fill carries the
 *   same high-frequency energy as its surroundings (a noise-residual probe cannot see it).
 */
import type { Rng } from "../rng.ts";
import { randomBytes, SYM_UNIFORM } from "./canvas.ts";
import { type Box, growBox } from "./masks.ts";

/**
 * Mean over the pixels where `sel` is set (inside `box`) of the max-channel absolute change
 * between `before` and `after` (w×h×3 floats, 0..1), after a 5×5 box low-pass of the signed
 * difference, in grey levels (0..255). 0 when `sel` is empty there.
 */
export function visibleChange(
  before: Float32Array,
  after: Float32Array,
  w: number,
  h: number,
  sel: Uint8Array,
  box: Box,
): number {
  const R = 2, g = growBox(box, R, w, h);
  const bw = g.x1 - g.x0, bh = g.y1 - g.y0;
  const d = new Float32Array(bw * bh * 3), t = new Float32Array(bw * bh * 3);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const o = ((g.y0 + y) * w + g.x0 + x) * 3, l = (y * bw + x) * 3;
      d[l] = after[o] - before[o];
      d[l + 1] = after[o + 1] - before[o + 1];
      d[l + 2] = after[o + 2] - before[o + 2];
    }
  }
  // rows then columns, clamped to the local box (the changes lie inside it)
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      let a = 0, b = 0, c = 0, n = 0;
      for (let j = Math.max(0, x - R); j <= Math.min(bw - 1, x + R); j++, n++) {
        const l = (y * bw + j) * 3;
        a += d[l];
        b += d[l + 1];
        c += d[l + 2];
      }
      const l = (y * bw + x) * 3;
      t[l] = a / n;
      t[l + 1] = b / n;
      t[l + 2] = c / n;
    }
  }
  let sum = 0, cnt = 0;
  for (let y = box.y0 - g.y0; y < box.y1 - g.y0; y++) {
    for (let x = box.x0 - g.x0; x < box.x1 - g.x0; x++) {
      if (!sel[(g.y0 + y) * w + g.x0 + x]) continue;
      let a = 0, b = 0, c = 0, n = 0;
      for (let j = Math.max(0, y - R); j <= Math.min(bh - 1, y + R); j++, n++) {
        const l = (j * bw + x) * 3;
        a += t[l];
        b += t[l + 1];
        c += t[l + 2];
      }
      sum += Math.max(Math.abs(a), Math.abs(b), Math.abs(c)) / n;
      cnt++;
    }
  }
  return cnt ? (sum / cnt) * 255 : 0;
}

/**
 * Fill the pixels of `hole` inside `box` (which must hold the hole plus a margin of known
 * pixels) from the known pixels around them: push-pull over a 2× pyramid with bilinear
 * pull-up, so the fill is smooth and meets the border without a seam. Writes `out` (w×h×3) at
 * every pixel of `box`: known pixels are copied, hole pixels interpolated.
 */
export function smoothFill(
  rgb: Float32Array,
  w: number,
  hole: Uint8Array,
  box: Box,
  out: Float32Array,
): void {
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  // level 0
  const vals: Float32Array[] = [], wts: Float32Array[] = [], dims: [number, number][] = [];
  let v = new Float32Array(bw * bh * 3), wt = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = (box.y0 + y) * w + box.x0 + x, l = y * bw + x;
      if (hole[i]) continue;
      wt[l] = 1;
      v[l * 3] = rgb[i * 3];
      v[l * 3 + 1] = rgb[i * 3 + 1];
      v[l * 3 + 2] = rgb[i * 3 + 2];
    }
  }
  let cw = bw, ch = bh;
  vals.push(v), wts.push(wt), dims.push([cw, ch]);
  // push: weighted 2×2 averages until the level has no hole or is tiny
  while (cw > 1 || ch > 1) {
    const nw = Math.ceil(cw / 2), nh = Math.ceil(ch / 2);
    const nv = new Float32Array(nw * nh * 3), nwt = new Float32Array(nw * nh);
    let missing = false;
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) {
        let s = 0, a = 0, b = 0, c = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const xx = 2 * x + dx, yy = 2 * y + dy;
            if (xx >= cw || yy >= ch) continue;
            const l = yy * cw + xx, q = wt[l];
            s += q;
            a += v[l * 3] * q;
            b += v[l * 3 + 1] * q;
            c += v[l * 3 + 2] * q;
          }
        }
        const l = y * nw + x;
        if (s > 0) {
          nv[l * 3] = a / s;
          nv[l * 3 + 1] = b / s;
          nv[l * 3 + 2] = c / s;
          nwt[l] = Math.min(1, s);
        } else missing = true;
      }
    }
    v = nv, wt = nwt, cw = nw, ch = nh;
    vals.push(v), wts.push(wt), dims.push([cw, ch]);
    if (!missing) break;
  }
  // pull: each level's missing weight is filled from the bilinear upsampling of the next
  for (let lv = vals.length - 2; lv >= 0; lv--) {
    const [fw, fh] = dims[lv], [uw, uh] = dims[lv + 1];
    const fv = vals[lv], fwt = wts[lv], uv = vals[lv + 1];
    for (let y = 0; y < fh; y++) {
      const sy = Math.min(uh - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
      const y0 = Math.floor(sy), y1 = Math.min(uh - 1, y0 + 1), ay = sy - y0;
      for (let x = 0; x < fw; x++) {
        const l = y * fw + x, q = fwt[l];
        if (q >= 1) continue;
        const sx = Math.min(uw - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
        const x0 = Math.floor(sx), x1 = Math.min(uw - 1, x0 + 1), ax = sx - x0;
        for (let c = 0; c < 3; c++) {
          const up = (uv[(y0 * uw + x0) * 3 + c] * (1 - ax) + uv[(y0 * uw + x1) * 3 + c] * ax) * (1 - ay) +
            (uv[(y1 * uw + x0) * 3 + c] * (1 - ax) + uv[(y1 * uw + x1) * 3 + c] * ax) * ay;
          fv[l * 3 + c] = fv[l * 3 + c] * q + up * (1 - q);
        }
        fwt[l] = 1;
      }
    }
  }
  const f = vals[0];
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = (box.y0 + y) * w + box.x0 + x, l = y * bw + x;
      out[i * 3] = f[l * 3];
      out[i * 3 + 1] = f[l * 3 + 1];
      out[i * 3 + 2] = f[l * 3 + 2];
    }
  }
}

/**
 * Std of the fine residual (pixel − mean of its 4 neighbours, all channels) over the known
 * pixels of `box` that are not in `hole`; the grain amplitude a fill should carry.
 */
export function residualStd(rgb: Float32Array, w: number, h: number, hole: Uint8Array, box: Box): number {
  let s = 0, n = 0;
  for (let y = Math.max(1, box.y0); y < Math.min(h - 1, box.y1); y++) {
    for (let x = Math.max(1, box.x0); x < Math.min(w - 1, box.x1); x++) {
      const i = y * w + x;
      if (hole[i] || hole[i - 1] || hole[i + 1] || hole[i - w] || hole[i + w]) continue;
      for (let c = 0; c < 3; c++) {
        const r = rgb[i * 3 + c] -
          0.25 * (rgb[(i - 1) * 3 + c] + rgb[(i + 1) * 3 + c] + rgb[(i - w) * 3 + c] + rgb[(i + w) * 3 + c]);
        s += r * r;
        n++;
      }
    }
  }
  return n ? Math.sqrt(s / n) : 0;
}

/**
 * Add white grain to `out` at the pixels of `sel` in `box` whose 4-neighbour residual has std
 * `sigma` (white noise of std σ_n has residual std σ_n·√1.25, hence the scale).
 */
export function regrain(
  out: Float32Array,
  w: number,
  sel: Uint8Array,
  box: Box,
  sigma: number,
  rng: Rng,
): void {
  const amp = (sigma / Math.sqrt(1.25)) * Math.sqrt(3); // uniform of std σ_n
  const bw = box.x1 - box.x0, bytes = new Uint8Array(bw * 3);
  for (let y = box.y0; y < box.y1; y++) {
    randomBytes(rng, bw * 3, bytes);
    for (let x = box.x0, j = 0; x < box.x1; x++, j += 3) {
      const i = y * w + x;
      if (!sel[i]) continue;
      out[i * 3] += SYM_UNIFORM[bytes[j]] * amp;
      out[i * 3 + 1] += SYM_UNIFORM[bytes[j + 1]] * amp;
      out[i * 3 + 2] += SYM_UNIFORM[bytes[j + 2]] * amp;
    }
  }
}
