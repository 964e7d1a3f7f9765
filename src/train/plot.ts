/**
 * Training curves as a standalone SVG (no dependencies, opens in any browser): one panel per
 * stage with every logged loss term against the step (training, thin lines) and the
 * validation loss (dots). Written at the end of `deno task train` and by `deno task plot`.
 * @module
 */

interface Rec {
  stage: string;
  type: string;
  step: number;
  [k: string]: unknown;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

function esc(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" }[c]!));
}

/** Renders log.jsonl records to SVG text. */
export function curvesSvg(records: Rec[]): string {
  const stages = [...new Set(records.map((r) => r.stage))];
  const W = 640, H = 260, pad = 48;
  const panels: string[] = [];
  stages.forEach((stage, si) => {
    const train = records.filter((r) => r.stage === stage && r.type === "train");
    const val = records.filter((r) => r.stage === stage && r.type === "val");
    const keys = [
      "loss",
      ...new Set(
        train.flatMap((r) => Object.keys(r)).filter((k) =>
          ![
            "stage",
            "type",
            "step",
            "epoch",
            "lr",
            "loss",
            "grad_norm",
            "samples_per_s",
            "elapsed_s",
            "peak_mb",
          ].includes(k)
        ),
      ),
    ];
    const ys = train.flatMap((r) => keys.map((k) => r[k] as number)).concat(
      val.map((r) => r.val_loss as number),
    )
      .filter((x) => Number.isFinite(x));
    const maxStep = Math.max(1, ...train.map((r) => r.step), ...val.map((r) => r.step));
    const yMax = Math.max(1e-6, ...ys), yMin = Math.min(0, ...ys);
    const x = (s: number) => pad + ((W - 2 * pad) * s) / maxStep;
    const y = (v: number) => H - pad + 10 - ((H - 2 * pad) * (v - yMin)) / (yMax - yMin);
    const top = si * H;
    const parts: string[] = [`<g transform="translate(0,${top})">`];
    parts.push(`<text x="${pad}" y="20" font-size="14" font-weight="bold">${esc(stage)}</text>`);
    parts.push(`<line x1="${pad}" y1="${y(yMin)}" x2="${W - pad}" y2="${y(yMin)}" stroke="#888"/>`);
    parts.push(`<line x1="${pad}" y1="${y(yMin)}" x2="${pad}" y2="${y(yMax)}" stroke="#888"/>`);
    for (const t of [0, 0.5, 1]) {
      const v = yMin + t * (yMax - yMin);
      parts.push(
        `<text x="${pad - 4}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v.toFixed(2)}</text>`,
      );
    }
    parts.push(
      `<text x="${W - pad}" y="${y(yMin) + 16}" font-size="10" text-anchor="end">step ${maxStep}</text>`,
    );
    keys.forEach((k, ki) => {
      const pts = train.filter((r) => Number.isFinite(r[k] as number)).map((r) =>
        `${x(r.step).toFixed(1)},${y(r[k] as number).toFixed(1)}`
      );
      if (pts.length < 1) return;
      const c = COLORS[ki % COLORS.length];
      parts.push(
        `<polyline fill="none" stroke="${c}" stroke-width="${k === "loss" ? 1.6 : 0.9}" points="${
          pts.join(" ")
        }"/>`,
      );
      parts.push(`<text x="${W - pad + 4}" y="${40 + 14 * ki}" font-size="11" fill="${c}">${esc(k)}</text>`);
    });
    for (const r of val) {
      if (Number.isFinite(r.val_loss as number)) {
        parts.push(
          `<circle cx="${x(r.step)}" cy="${y(r.val_loss as number)}" r="3.5" fill="black"><title>val_loss ${
            (r.val_loss as number).toFixed(4)
          }</title></circle>`,
        );
      }
    }
    parts.push(`<text x="${W - pad + 4}" y="${40 + 14 * keys.length}" font-size="11">● val_loss</text>`);
    parts.push("</g>");
    panels.push(parts.join("\n"));
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 80}" height="${
    Math.max(1, stages.length) * H
  }" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${
    panels.join("\n")
  }\n</svg>\n`;
}

/** Reads a log.jsonl and writes the SVG beside it (atomically). */
export function writeCurves(logPath: string, svgPath: string): void {
  const recs: Rec[] = [];
  for (const line of Deno.readTextFileSync(logPath).split("\n")) {
    if (!line.trim()) continue;
    try {
      recs.push(JSON.parse(line));
    } catch {
      // a line cut by a crash mid-write: skip it
    }
  }
  const tmp = `${svgPath}.tmp`;
  Deno.writeTextFileSync(tmp, curvesSvg(recs));
  Deno.renameSync(tmp, svgPath);
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error("plot: usage: deno task plot runs/X   (reads runs/X/log.jsonl, writes runs/X/curves.svg)");
    Deno.exit(2);
  }
  try {
    writeCurves(`${dir}/log.jsonl`, `${dir}/curves.svg`);
    console.log(`${dir}/curves.svg`);
  } catch (e) {
    console.error(`plot: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
