// The serial queue (one job at a time, arrival order, bounded waiting) and the region-word
// spans the page highlights.
import { assert, assertEquals, assertRejects } from "../eval/assert_helpers.ts";
import { QueueFullError, SerialQueue } from "../../src/serve/queue.ts";
import { regionSpans } from "../../src/serve/highlight.ts";
import { regionNames } from "../../src/data/regions.ts";

Deno.test("SerialQueue: async jobs never overlap, run in arrival order, report their wait", async () => {
  const q = new SerialQueue(10);
  let active = 0, most = 0;
  const order: number[] = [];
  const job = (i: number) => async () => {
    active++;
    most = Math.max(most, active);
    await new Promise((r) => setTimeout(r, 5 + (7 - i) * 2)); // later jobs are shorter
    order.push(i);
    active--;
    return i * 10;
  };
  const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => q.run(job(i))));
  assertEquals(most, 1);
  assertEquals(order, [0, 1, 2, 3, 4, 5]);
  assertEquals(runs.map((r) => r.value), [0, 10, 20, 30, 40, 50]);
  for (let i = 1; i < runs.length; i++) assert(runs[i].waitedMs >= runs[i - 1].waitedMs, "waits grow");
  assertEquals(q.stats(), { running: 0, waiting: 0, done: 6, failed: 0, refused: 0 });
});

Deno.test("SerialQueue: a failing job does not stop the next; a full queue refuses at once", async () => {
  const q = new SerialQueue(1);
  const slow = q.run(() => new Promise((r) => setTimeout(() => r("a"), 20)));
  const bad = q.run(() => {
    throw new Error("boom");
  });
  const full = q.run(() => "c");
  await assertRejects(() => full, /queue is full/);
  assert(await full.catch((e) => e instanceof QueueFullError), "a QueueFullError");
  await assertRejects(() => bad, /boom/);
  assertEquals((await slow).value, "a");
  assertEquals((await q.run(() => "d")).value, "d");
  assertEquals(q.stats(), { running: 0, waiting: 0, done: 3, failed: 1, refused: 1 });
});

Deno.test("regionSpans: whole-word synonyms, case-insensitive, overlaps merged, agreeing with regionNames", () => {
  const text = "Buccal blur near the Eyes; eyebrow and brow lines, no eyelid. Facial hair too.";
  const spans = regionSpans(text);
  const words = spans.map((s) => text.slice(s.start, s.end));
  assertEquals(words, ["Buccal", "Eyes", "eyebrow", "brow", "lines", "Facial hair"]);
  assertEquals(spans[0].regions, ["mouth", "cheek"]);
  assertEquals(spans[5].regions, ["beard", "hair"]);
  for (const s of spans) assertEquals(regionNames(text.slice(s.start, s.end)), s.regions);
  // every region regionNames finds in the text is covered by some span
  const covered = new Set(spans.flatMap((s) => s.regions));
  for (const r of regionNames(text)) assert(covered.has(r), r);
  assertEquals(regionSpans("eyelid eyebrowed"), []);
});
