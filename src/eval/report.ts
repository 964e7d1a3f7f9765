/**
 * The evaluation report: the paper's columns (CIDEr, METEOR, BLEU-1..4, ROUGE-L, IoU,
 * Precision, Recall, PLM) ×100, one row for the whole split and one per manipulation type,
 * rendered as a fixed-width text table.
 */

/** One table row, every value already ×100 (NaN when not computed). */
export interface ReportRow {
  name: string;
  n: number;
  CIDEr: number;
  METEOR: number;
  "BLEU-1": number;
  "BLEU-2": number;
  "BLEU-3": number;
  "BLEU-4": number;
  "ROUGE-L": number;
  IoU: number;
  Precision: number;
  Recall: number;
  PLM: number;
  cIoU: number;
}

/** Column order of the paper's table (cIoU appended). */
export const REPORT_COLUMNS = [
  "CIDEr",
  "METEOR",
  "BLEU-1",
  "BLEU-2",
  "BLEU-3",
  "BLEU-4",
  "ROUGE-L",
  "IoU",
  "Precision",
  "Recall",
  "PLM",
  "cIoU",
] as const;

/** Render rows as an aligned text table. */
export function formatTable(rows: readonly ReportRow[]): string {
  const nameW = Math.max(8, ...rows.map((r) => r.name.length));
  const head = ["set".padEnd(nameW), "n".padStart(7), ...REPORT_COLUMNS.map((c) => c.padStart(9))].join(" ");
  const lines = [head, "-".repeat(head.length)];
  for (const r of rows) {
    const cells = REPORT_COLUMNS.map((c) => {
      const v = r[c];
      return (Number.isFinite(v) ? v.toFixed(2) : "-").padStart(9);
    });
    lines.push([r.name.padEnd(nameW), String(r.n).padStart(7), ...cells].join(" "));
  }
  return lines.join("\n");
}
