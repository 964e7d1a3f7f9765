/**
 * Text tables for model evaluation: the paper's robustness layout (Table 7: one row per
 * degradation, the caption and mask columns), the ablation layout (Tables 4/5: one row per
 * variant) and a side-by-side comparison of two reports with deltas.
 * @module
 */
import { REPORT_COLUMNS, type ReportRow } from "../eval/report.ts";

const cell = (v: number | undefined) =>
  (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : "-").padStart(9);

/** Rows labelled by variant (robustness set or ablation), columns as the paper's table. */
export function variantTable(title: string, rows: readonly { label: string; row: ReportRow }[]): string {
  const w = Math.max(12, title.length, ...rows.map((r) => r.label.length));
  const head = [title.padEnd(w), ...REPORT_COLUMNS.map((c) => c.padStart(9))].join(" ");
  const lines = [head, "-".repeat(head.length)];
  for (const { label, row } of rows) {
    lines.push([label.padEnd(w), ...REPORT_COLUMNS.map((c) => cell(row[c]))].join(" "));
  }
  return lines.join("\n");
}

/** Side by side: for every row name in both reports, A, B and B − A. */
export function compareTable(
  aName: string,
  a: readonly ReportRow[],
  bName: string,
  b: readonly ReportRow[],
): string {
  const w = Math.max(14, aName.length + 4, bName.length + 4);
  const head = ["set / report".padEnd(w), "n".padStart(6), ...REPORT_COLUMNS.map((c) => c.padStart(9))].join(
    " ",
  );
  const lines = [head, "-".repeat(head.length)];
  const byName = new Map(b.map((r) => [r.name, r]));
  for (const ra of a) {
    const rb = byName.get(ra.name);
    if (!rb) continue;
    lines.push(`${ra.name}:`);
    lines.push(
      [`  A ${aName}`.padEnd(w), String(ra.n).padStart(6), ...REPORT_COLUMNS.map((c) => cell(ra[c]))].join(
        " ",
      ),
    );
    lines.push(
      [`  B ${bName}`.padEnd(w), String(rb.n).padStart(6), ...REPORT_COLUMNS.map((c) => cell(rb[c]))].join(
        " ",
      ),
    );
    lines.push(
      [
        "  B - A".padEnd(w),
        "".padStart(6),
        ...REPORT_COLUMNS.map((c) => {
          const d = rb[c] - ra[c];
          return (Number.isFinite(d) ? (d >= 0 ? "+" : "") + d.toFixed(2) : "-").padStart(9);
        }),
      ].join(" "),
    );
  }
  const missing = [
    ...a.map((r) => r.name).filter((n) => !byName.has(n)),
    ...b.map((r) => r.name).filter((n) => !a.some((r) => r.name === n)),
  ];
  if (missing.length) lines.push(`(rows in only one report: ${missing.join(", ")})`);
  return lines.join("\n");
}
