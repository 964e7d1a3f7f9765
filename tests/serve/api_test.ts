// The analyst server's JSON API over real HTTP on 127.0.0.1 (tiny random-weight checkpoint):
// a good image gives the same report as analyze(), corrupt / oversized / wrong-type uploads
// get JSON errors with the right status, the token guards every API call, concurrent uploads
// are all answered, and the CLI refuses an exposed host without a token.
import { join } from "node:path";
import { assert, assertEquals } from "../eval/assert_helpers.ts";
import { fixture } from "../infer/fixture.ts";
import { analyze, loadModel } from "../../src/infer/analyze.ts";
import { decodePng, encodeJpeg, encodePng } from "../../src/data/image_io.ts";
import { regionNames } from "../../src/data/regions.ts";
import { createApp, type RunningServer, type ServeOptions, startServer } from "../../src/serve/server.ts";
import { localEngine, startWorkerEngine } from "../../src/serve/engine.ts";
import { main } from "../../src/cli/serve.ts";

const DECODING = { greedy: true, maxNewTokens: 6 };

async function withServer(
  extra: Partial<ServeOptions>,
  fn: (s: RunningServer, base: string) => Promise<void>,
): Promise<void> {
  const f = await fixture();
  const engine = await startWorkerEngine(f.ckpt); // the model in a worker, as `deno task serve` runs it
  const s = startServer({ engine, hostname: "127.0.0.1", port: 0, decoding: DECODING, ...extra });
  try {
    await fn(s, s.url.replace(/\/$/, ""));
  } finally {
    await s.shutdown();
    await engine.close();
  }
}

function form(bytes: Uint8Array, name: string, type: string, field = "image"): FormData {
  const fd = new FormData();
  fd.append(field, new File([bytes as Uint8Array<ArrayBuffer>], name, { type }));
  return fd;
}

/** Asserts a JSON error body: status, exactly {error}, a message matching `re`, no stack trace. */
async function expectError(res: Response, status: number, re: RegExp): Promise<void> {
  const body = await res.json();
  assertEquals(res.status, status, JSON.stringify(body));
  assertEquals(Object.keys(body), ["error"]);
  assert(re.test(body.error), `error '${body.error}' should match ${re}`);
  assert(!/\n\s+at /.test(body.error), "no stack trace in errors");
  assert(res.headers.get("content-type")!.startsWith("application/json"));
}

Deno.test("serve API: a good image gives analyze()'s report, its mask PNG and the region-word spans", async () => {
  const f = await fixture();
  const bytes = await Deno.readFile(f.images[0]);
  await withServer({}, async (_s, base) => {
    const res = await fetch(`${base}/api/analyze`, {
      method: "POST",
      body: form(bytes, "face.png", "image/png"),
    });
    assertEquals(res.status, 200);
    assert(res.headers.get("content-security-policy")!.includes("default-src 'none'"));
    const out = await res.json();
    assertEquals(out.name, "face.png");
    assertEquals(out.format, "png");
    const ref = await analyze(bytes, { ckpt: f.ckpt, ...DECODING });
    const rep = out.report;
    assertEquals(rep.explanation, ref.explanation);
    assertEquals(rep.instruction, ref.instruction);
    assertEquals(rep.regions.selected, ref.regions.selected);
    assertEquals(Object.keys(rep.regions.probabilities).length, 21);
    for (const [k, p] of Object.entries(ref.regions.probabilities)) {
      assert(Math.abs(rep.regions.probabilities[k] - p) < 1e-6, k);
    }
    assertEquals(rep.mask.forgedPixels, ref.mask.forgedPixels);
    assertEquals(rep.image.source, "face.png");
    // the mask PNG is the binary mask at the input size
    const png = decodePng(Uint8Array.from(atob(out.maskPng.split(",")[1]), (c) => c.charCodeAt(0)));
    assertEquals([png.width, png.height, png.channels], [ref.mask.width, ref.mask.height, 1]);
    let on = 0;
    for (let i = 0; i < png.data.length; i++) {
      assertEquals(png.data[i], ref.mask.binary[i] ? 255 : 0);
      on += png.data[i] ? 1 : 0;
    }
    assertEquals(on, rep.mask.forgedPixels);
    for (const h of out.highlights) {
      const word = rep.explanation.slice(h.start, h.end);
      assertEquals(regionNames(word), h.regions, `span '${word}'`);
    }
    assert(out.timings.serverMs >= rep.timings.total * 0.5 && out.timings.queueMs >= 0);
    // the same bytes as a raw body (curl --data-binary), and as a JPEG
    const raw = await fetch(`${base}/api/analyze`, {
      method: "POST",
      headers: { "content-type": "image/png", "x-ft-filename": "../../etc/raw.png" },
      body: bytes,
    });
    const rawOut = await raw.json();
    assertEquals(raw.status, 200);
    assertEquals(rawOut.report.explanation, ref.explanation);
    assertEquals(rawOut.name, "raw.png"); // a path in the name is reduced to its last part
    const img = decodePng(bytes);
    const jpg = await fetch(`${base}/api/analyze?threshold=0.2`, {
      method: "POST",
      body: form(encodeJpeg(img, 90), "face.jpg", "image/jpeg"),
    });
    const jOut = await jpg.json();
    assertEquals(jpg.status, 200);
    assertEquals([jOut.format, jOut.report.mask.threshold], ["jpeg", 0.2]);
  });
});

Deno.test("serve API: corrupt, oversized and wrong-type uploads get JSON errors naming the problem", async () => {
  const f = await fixture();
  const good = await Deno.readFile(f.images[0]);
  await withServer({ maxUploadBytes: 100_000, maxSide: 512 }, async (_s, base) => {
    const post = (body: BodyInit, headers: Record<string, string> = {}, q = "") =>
      fetch(`${base}/api/analyze${q}`, { method: "POST", body, headers });
    // corrupt: a PNG signature followed by junk, and a JPEG cut in half
    const junk = new Uint8Array(200);
    junk.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    await expectError(await post(form(junk, "bad.png", "image/png")), 400, /bad\.png/);
    const jpg = encodeJpeg(decodePng(good), 90);
    await expectError(
      await post(form(jpg.slice(0, jpg.length >> 1), "cut.jpg", "image/jpeg")),
      400,
      /cut\.jpg.*(truncated|corrupt)/i,
    );
    await expectError(await post(form(new Uint8Array(0), "empty.png", "image/png")), 400, /empty/);
    // too large: bytes (multipart and raw), then pixels from the header
    const big = new Uint8Array(150_000);
    big.set(good.subarray(0, 8));
    await expectError(await post(form(big, "big.png", "image/png")), 413, /over the limit of 100000 bytes/);
    await expectError(await post(big, { "content-type": "image/png" }), 413, /over the limit/);
    const wide = encodePng({ width: 600, height: 4, channels: 1, data: new Uint8Array(2400) });
    await expectError(await post(form(wide, "wide.png", "image/png")), 413, /wide\.png.*600x4.*512 px/);
    // wrong type: declared, then sniffed
    await expectError(await post("hello", { "content-type": "text/plain" }), 415, /text\/plain/);
    await expectError(await post(form(good, "x.gif", "image/gif")), 415, /image\/gif.*not accepted/);
    const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;");
    await expectError(await post(form(gif, "fake.png", "image/png")), 415, /fake\.png.*not a PNG or JPEG/);
    await expectError(await post(form(good, "a.png", "image/png", "file")), 400, /field named 'image'/);
    await expectError(
      await post("--x\r\nbroken", { "content-type": "multipart/form-data; boundary=zzz" }),
      400,
      /malformed multipart/,
    );
    // bad options, unknown routes, wrong methods, cross-origin calls
    await expectError(await post(form(good, "a.png", "image/png"), {}, "?beams=99"), 400, /beams.*1\.\.8/);
    await expectError(await fetch(`${base}/api/nope`), 404, /no API endpoint/);
    await expectError(await fetch(`${base}/api/analyze`), 405, /use POST/);
    await expectError(await fetch(`${base}/nope.html`), 404, /no page/);
    await expectError(
      await fetch(`${base}/api/health`, { headers: { origin: "http://evil.example" } }),
      403,
      /cross-origin/,
    );
  });
});

Deno.test("serve API: the token guards every API call, not the page; Host must be loopback", async () => {
  await withServer({ token: "s3cret-token" }, async (_s, base) => {
    for (const path of ["/api/health", "/api/model"]) {
      await expectError(await fetch(`${base}${path}`), 401, /token/);
      await expectError(
        await fetch(`${base}${path}`, { headers: { authorization: "Bearer wrong" } }),
        401,
        /token/,
      );
      const ok = await fetch(`${base}${path}`, { headers: { authorization: "Bearer s3cret-token" } });
      assertEquals(ok.status, 200);
      await ok.body?.cancel();
      const alt = await fetch(`${base}${path}`, { headers: { "x-ft-token": "s3cret-token" } });
      assertEquals(alt.status, 200);
      await alt.body?.cancel();
    }
    const f = await fixture();
    const body = form(await Deno.readFile(f.images[0]), "a.png", "image/png");
    await expectError(await fetch(`${base}/api/analyze`, { method: "POST", body }), 401, /token/);
    const page = await fetch(`${base}/`);
    assertEquals(page.status, 200);
    assert((await page.text()).includes('<script src="/app.js"'));
  });
  // DNS rebinding: a loopback server refuses a foreign Host header
  const f = await fixture();
  const app = createApp({ engine: localEngine(await loadModel(f.ckpt)), loopbackOnly: true });
  const res = await app.handler(
    new Request("http://evil.example/api/health", { headers: { host: "evil.example" } }),
  );
  await expectError(res, 403, /Host 'evil\.example'/);
  const ok = await app.handler(
    new Request("http://127.0.0.1:8787/api/health", { headers: { host: "127.0.0.1:8787" } }),
  );
  assertEquals(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("serve API: 10 concurrent uploads are all answered, one forward at a time; a full queue says 503", async () => {
  const f = await fixture();
  const bytes = await Deno.readFile(f.images[1]);
  await withServer({}, async (s, base) => {
    const burst = Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          fetch(`${base}/api/analyze`, { method: "POST", body: form(bytes, `c${i}.png`, "image/png") })
            .then(async (r) => ({ status: r.status, body: await r.json() })),
      ),
    );
    // the model works in a worker: health is answered while the burst is still being analysed
    await new Promise((r) => setTimeout(r, 300));
    const busy = await (await fetch(`${base}/api/health`)).json();
    assert(busy.queue.running + busy.queue.waiting > 0 && busy.queue.done < 10, JSON.stringify(busy.queue));
    const outs = await burst;
    assertEquals(outs.map((o) => o.status), new Array(10).fill(200));
    assertEquals(new Set(outs.map((o) => o.body.id)).size, 10);
    assertEquals(new Set(outs.map((o) => o.body.report.explanation)).size, 1);
    // serial: waits grow, and the queue ran all ten
    assert(Math.max(...outs.map((o) => o.body.timings.queueMs)) > 0);
    const st = s.app.queue.stats();
    assertEquals([st.done, st.failed, st.running, st.waiting], [10, 0, 0, 0]);
    const health = await (await fetch(`${base}/api/health`)).json();
    assertEquals(health.status, "ok");
    assertEquals(health.queue.done, 10);
  });
  await withServer({ maxQueue: 1 }, async (_s, base) => {
    const res = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) =>
          fetch(`${base}/api/analyze`, { method: "POST", body: form(bytes, `q${i}.png`, "image/png") }),
      ),
    );
    const codes = res.map((r) => r.status).sort();
    for (const r of res) {
      if (r.status === 503) await expectError(r, 503, /queue is full/);
      else await r.body?.cancel();
    }
    assert(codes.filter((c) => c === 200).length >= 2, codes.join());
    assert(codes.includes(503), codes.join());
  });
});

Deno.test("serve API: GET /api/model describes the model and limits; --save writes the four outputs", async () => {
  const f = await fixture();
  const dir = join(f.dir, "serve_saved");
  await withServer({ save: dir }, async (_s, base) => {
    const info = await (await fetch(`${base}/api/model`)).json();
    assertEquals([info.config, info.imageSize, info.regions.length, info.saving], ["tiny", 224, 21, true]);
    assertEquals(info.decoding.mode, "greedy");
    assert(info.parameters > 1e5 && /^[0-9a-f]{64}$/.test(info.sha256));
    const res = await fetch(`${base}/api/analyze`, {
      method: "POST",
      body: form(await Deno.readFile(f.images[2]), "s.png", "image/png"),
    });
    const out = await res.json();
    assertEquals(res.status, 200);
    const files = out.saved as Record<string, string>;
    assertEquals(Object.keys(files).sort(), ["input", "json", "mask", "overlay"]);
    for (const p of Object.values(files)) assert((await Deno.stat(p)).size > 0, p);
    const saved = JSON.parse(await Deno.readTextFile(files.json));
    assertEquals(saved.explanation, out.report.explanation);
    assertEquals(saved.outputs, files);
  });
});

Deno.test("serve CLI: usage errors, an exposed host without a token, a missing checkpoint; serves until stopped", async () => {
  const f = await fixture();
  const err = console.error, log = console.log;
  let text = "";
  console.error = (...a: unknown[]) => (text += a.join(" ") + "\n");
  console.log = console.error;
  try {
    assertEquals(await main(["--port", "x"]), 2);
    assertEquals(await main(["--bogus"]), 2);
    assertEquals(await main(["--host", "0.0.0.0", "--ckpt", f.ckpt]), 2);
    assert(/reachable from other machines.*--token/.test(text), text);
    assertEquals(await main(["--token", "short", "--ckpt", f.ckpt]), 2);
    assertEquals(await main(["--ckpt", join(f.dir, "missing.safetensors")]), 1);
    assert(/missing\.safetensors.*cannot read/.test(text), text);
    const ac = new AbortController();
    const done = main(["--ckpt", f.ckpt, "--port", "0", "--greedy", "--quiet"], {
      signal: ac.signal,
      onListen: async (url) => {
        const h = await fetch(`${url}api/health`);
        assertEquals((await h.json()).status, "ok");
        ac.abort();
      },
    });
    assertEquals(await done, 0);
  } finally {
    console.error = err, console.log = log;
  }
});
