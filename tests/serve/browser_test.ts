// The analyst page in a real browser: headless Chromium (Debian's `chromium`) driven over the
// DevTools protocol (tests/serve/cdp.ts). It loads the page, uploads generated forged faces
// through the file input, waits for the result and checks the overlay (pixels change exactly
// where the mask is), the 21 region bars, the highlighted explanation, the keyboard
// shortcuts, the history, the phone-width layout, and that the console stayed clean.
// A 1280×800 screenshot goes to $FT_SERVE_SCREENSHOT when set (docs/img/serve_page.png is
// made that way, see docs/serve.md), else to a temp folder. Skips where Chromium is absent.
import { join } from "node:path";
import { assert, assertEquals } from "../eval/assert_helpers.ts";
import { fixture } from "../infer/fixture.ts";
import { Browser, CHROMIUM, haveChromium } from "./cdp.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { decodePng } from "../../src/data/image_io.ts";
import { analyze, loadModel } from "../../src/infer/analyze.ts";
import { startServer } from "../../src/serve/server.ts";
import { startWorkerEngine } from "../../src/serve/engine.ts";

const have = haveChromium();
if (!have) console.log(`serve browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);

Deno.test({
  name:
    "serve page in headless Chromium: upload, overlay, regions, explanation, keyboard, history, phone width",
  ignore: !have,
  async fn() {
    const f = await fixture();
    const dir = await Deno.makeTempDir({ prefix: "ft_serve_browser_" });
    const recs = await generateDataset({
      out: join(dir, "synth"),
      n: 2,
      seed: 3,
      size: 256,
      workers: 0,
      quiet: true,
    });
    const faces = recs.map((r) => join(dir, "synth", r.img_path));
    // a real checkpoint (for the README screenshot) or the tiny random-weight one
    const ckpt = Deno.env.get("FT_SERVE_SHOT_CKPT") || f.ckpt;
    const model = await loadModel(ckpt);
    const decoding = { greedy: true, maxNewTokens: ckpt === f.ckpt ? 12 : 60, threshold: 0.5 };
    const bytes = await Deno.readFile(faces[0]);
    const ref = await analyze(bytes, { ckpt: model, ...decoding });
    if (ckpt === f.ckpt) {
      // random weights: put the mask threshold at the median probability so about half the
      // pixels are "forged" and the overlay check below has something to see
      const sorted = Float32Array.from(ref.mask.probability).sort();
      decoding.threshold = sorted[sorted.length >> 1];
    }
    const engine = await startWorkerEngine(ckpt);
    const server = startServer({ engine, hostname: "127.0.0.1", port: 0, decoding });
    const expected = await analyze(bytes, { ckpt: model, ...decoding });
    const browser = await Browser.launch();
    const problems: string[] = [];
    browser.onEvent((method, p) => {
      if (method === "Runtime.exceptionThrown") problems.push(JSON.stringify(p).slice(0, 300));
      if (method === "Log.entryAdded") {
        const e = p.entry as { level: string; text: string };
        if (e.level === "error") problems.push(e.text);
      }
      if (method === "Runtime.consoleAPICalled" && p.type === "error") problems.push(JSON.stringify(p.args));
    });
    try {
      const page = await browser.newPage(1280, 800);
      await page.send("Log.enable");
      await page.goto(server.url);
      await page.waitFor(`document.getElementById("model-info").textContent.startsWith("model ")`, 20_000);
      assertEquals(
        await page.eval(`getComputedStyle(document.getElementById("token-form")).display`),
        "none",
      );
      await page.setFiles("#file", [faces[0]]);
      await page.waitFor(
        `["done", "error"].includes(document.getElementById("result").dataset.state)`,
        120_000,
        "the first result",
      );
      const state = await page.eval<{ state: string; status: string }>(
        `({state: result.dataset.state, status: document.getElementById("status").textContent})`,
      );
      assertEquals(state.state, "done", state.status);

      // the findings shown are the model's: explanation, highlighted words, 21 bars, selected ones
      const shown = await page.eval<{
        explanation: string;
        marks: string[];
        bars: number;
        on: string[];
        canvas: [number, number];
        timings: number;
        dl: string[];
      }>(`(() => {
        const q = (s) => [...document.querySelectorAll(s)];
        const cv = document.getElementById("view");
        return {
          explanation: document.getElementById("explanation").textContent,
          marks: q("#explanation mark").map((m) => m.dataset.regions),
          bars: q("#regions li").length,
          on: q("#regions li.on").map((li) => li.dataset.region),
          canvas: [cv.width, cv.height],
          timings: q("#timings tr").length,
          dl: q(".downloads a").map((a) => a.getAttribute("aria-disabled") + " " + (a.download || "")),
        };
      })()`);
      assertEquals(shown.explanation, expected.explanation || "(the report decoder returned an empty text)");
      assertEquals(shown.bars, 21);
      assertEquals(shown.on, expected.regions.selected);
      assertEquals(shown.canvas, [expected.mask.width, expected.mask.height]);
      assert(shown.timings >= 10);
      assertEquals(
        shown.dl,
        ["false face_0.mask.png", "false face_0.json", "false face_0.overlay.png"].map((s) =>
          s.replace("face_0", faces[0].split("/").pop()!.replace(/\.png$/, ""))
        ),
      );
      const api = await (await fetch(`${server.url}api/analyze`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: bytes,
      })).json();
      assertEquals(shown.marks, api.highlights.map((h: { regions: string[] }) => h.regions.join(" ")));

      const shot = await page.screenshot();
      const png = decodePng(shot);
      assertEquals([png.width, png.height], [1280, 800]);
      await Deno.writeFile(Deno.env.get("FT_SERVE_SCREENSHOT") || join(dir, "serve_page.png"), shot);

      // overlay: with it on, exactly the mask's pixels differ from the photo; outline only
      // changes fewer of them; opacity 0 leaves only the outline
      const pixels = `(() => { const c = document.getElementById("view");
        return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data); })()`;
      const on = await page.eval<number[]>(pixels);
      await page.press("o");
      assertEquals(await page.eval(`document.getElementById("overlay-on").checked`), false);
      const off = await page.eval<number[]>(pixels);
      const differ = (a: number[], b: number[]) => {
        let n = 0;
        for (let i = 0; i < a.length; i += 4) {
          if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) n++;
        }
        return n;
      };
      const forged = expected.mask.forgedPixels;
      const dOn = differ(on, off);
      assert(dOn <= forged && dOn >= forged * 0.99, `overlay changed ${dOn} pixels, mask has ${forged}`);
      if (ckpt === f.ckpt) assert(forged > 1000, `median threshold should mask about half, got ${forged}`);
      await page.press("o");
      await page.press("l");
      const outline = differ(await page.eval<number[]>(pixels), off);
      assert(outline > 0 && outline < dOn, `outline ${outline} vs filled ${dOn}`);
      await page.press("l");
      for (let i = 0; i < 5; i++) await page.press("[");
      assertEquals(await page.eval(`document.getElementById("opacity-out").textContent`), "0%");
      await page.press("]");
      assertEquals(await page.eval(`document.getElementById("opacity").value`), "10");

      // sorting the bars by probability from the keyboard
      await page.press("s");
      const probs = await page.eval<number[]>(
        `[...document.querySelectorAll("#regions .val")].map((v) => Number(v.textContent))`,
      );
      assertEquals(probs, [...probs].sort((a, b) => b - a));

      // a second image joins the history; K goes back to the first
      await page.setFiles("#file", [faces[1]]);
      await page.waitFor(
        `document.querySelectorAll("#history li.done").length === 2 && result.dataset.state === "done"`,
        120_000,
        "the second result",
      );
      assertEquals(await page.eval(`document.querySelector("#history [aria-current=true]").dataset.id`), "2");
      await page.press("k");
      assertEquals(await page.eval(`document.querySelector("#history [aria-current=true]").dataset.id`), "1");
      assertEquals(await page.eval(`document.getElementById("explanation").textContent`), shown.explanation);

      // phone width: nothing overflows sideways, the image and the bars fit
      await page.viewport(390, 844);
      const phone = await page.eval<{ scroll: number; canvas: number; bars: number }>(`({
        scroll: document.documentElement.scrollWidth,
        canvas: document.getElementById("view").getBoundingClientRect().right,
        bars: document.getElementById("regions").getBoundingClientRect().right,
      })`);
      assert(phone.scroll <= 390 && phone.canvas <= 390 && phone.bars <= 390, JSON.stringify(phone));
      assertEquals(problems, []);

      // a token-protected server: without the token the page asks for it; a #token= fragment
      // is taken, dropped from the address bar, and the page works
      const guarded = startServer({
        engine,
        hostname: "127.0.0.1",
        port: 0,
        decoding,
        token: "browser-token-1",
      });
      try {
        const p2 = await browser.newPage(1280, 800);
        await p2.goto(guarded.url);
        await p2.waitFor(`!document.getElementById("token-form").hidden`, 20_000, "the token form");
        assert(/token/.test(await p2.eval<string>(`document.getElementById("model-info").textContent`)));
        const p3 = await browser.newPage(1280, 800); // a fragment-only change would not reload p2
        await p3.goto(`${guarded.url}#token=browser-token-1`);
        await p3.waitFor(`document.getElementById("model-info").textContent.startsWith("model ")`, 20_000);
        assertEquals(await p3.eval(`location.hash`), "");
        assertEquals(await p3.eval(`document.getElementById("token-form").hidden`), true);
      } finally {
        await guarded.shutdown();
      }
      // only the expected 401s of the token-less visit were logged
      assert(problems.every((t) => /401/.test(t)), problems.join("\n"));
    } finally {
      await browser.close();
      await server.shutdown();
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
