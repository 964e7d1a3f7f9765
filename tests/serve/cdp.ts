/**
 * A small Chrome DevTools Protocol client for the browser tests: launches the system
 * Chromium headless (`--remote-debugging-port=0`, the port read from stderr's
 * "DevTools listening on ws://..." line, a throw-away profile folder), speaks CDP over
 * Deno's built-in WebSocket with flattened sessions, and tears everything down.
 * No puppeteer: the handful of commands the tests need do not earn a dependency.
 * @module
 */

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** True when the browser binary exists (the browser tests skip otherwise). */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

type Json = Record<string, unknown>;
interface Pending {
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  method: string;
}

/** One headless Chromium and its DevTools connection. */
export class Browser {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, Pending>();
  #listeners = new Set<(method: string, params: Json, sessionId?: string) => void>();
  #closed: Promise<void>;

  private constructor(
    ws: WebSocket,
    private child: Deno.ChildProcess,
    private profile: string,
    private drained: Promise<void>,
  ) {
    this.#ws = ws;
    this.#closed = new Promise((r) => ws.addEventListener("close", () => r(), { once: true }));
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (typeof msg.id === "number") {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`CDP ${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else {
        for (const l of this.#listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
      }
    });
  }

  /** Starts Chromium and connects; `timeoutMs` bounds the wait for the DevTools line. */
  static async launch(timeoutMs = 30_000): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "ft_chromium_" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless=new",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--no-sandbox", // we run as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--mute-audio",
        "--hide-scrollbars",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // read stderr until the DevTools line, then keep draining it so Chromium never blocks
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let found: (url: string) => void = () => {};
    const wsUrl = new Promise<string>((r) => (found = r));
    const drained = (async () => {
      let done = false;
      while (!done) {
        const r = await reader.read();
        done = r.done;
        if (r.value && seen.length < 100_000) {
          seen += r.value;
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
          if (m) found(m[1]);
        }
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new Error(`chromium did not start in ${timeoutMs} ms:\n${seen.slice(-2000)}`)),
        timeoutMs,
      );
    });
    let url: string;
    try {
      url = await Promise.race([
        wsUrl,
        timeout,
        child.status.then((s) => {
          throw new Error(`chromium exited (code ${s.code}) before listening:\n${seen.slice(-2000)}`);
        }),
      ]);
    } catch (e) {
      clearTimeout(timer);
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await drained;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    }
    clearTimeout(timer);
    const ws = new WebSocket(url);
    await new Promise<void>((res, rej) => {
      ws.addEventListener("open", () => res(), { once: true });
      ws.addEventListener("error", () => rej(new Error(`cannot connect to ${url}`)), { once: true });
    });
    return new Browser(ws, child, profile, drained);
  }

  /** Sends one command (to the browser, or to a page session) and awaits its result. */
  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /** Resolves with the params of the next `method` event (of `sessionId`) within `timeoutMs`. */
  waitEvent(method: string, sessionId?: string, timeoutMs = 30_000): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(l);
        reject(new Error(`timed out waiting for ${method}`));
      }, timeoutMs);
      const l = (m: string, p: Json, s?: string) => {
        if (m !== method || (sessionId && s !== sessionId)) return;
        clearTimeout(timer);
        this.#listeners.delete(l);
        resolve(p);
      };
      this.#listeners.add(l);
    });
  }

  /** Opens a page (tab) with the given viewport; returns its session. */
  async newPage(width: number, height: number): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId as string);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.viewport(width, height);
    return page;
  }

  /** Listens to every event (console messages, exceptions) until the browser closes. */
  onEvent(l: (method: string, params: Json, sessionId?: string) => void): void {
    this.#listeners.add(l);
  }

  /** Closes the browser, waits for the process and removes the profile. */
  async close(): Promise<void> {
    try {
      await Promise.race([this.send("Browser.close"), new Promise((r) => setTimeout(r, 3000))]);
    } catch { /* the socket may close first */ }
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close();
    await Promise.race([this.#closed, new Promise((r) => setTimeout(r, 3000))]);
    const killer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.child.status;
    clearTimeout(killer);
    await this.drained;
    for (const p of this.#pending.values()) p.reject(new Error("browser closed"));
    this.#pending.clear();
    await Deno.remove(this.profile, { recursive: true }).catch(() => {});
  }
}

/** One tab, addressed through its flattened CDP session. */
export class Page {
  constructor(readonly browser: Browser, readonly sessionId: string) {}

  /** A command in this page's session. */
  send(method: string, params: Json = {}): Promise<Json> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Sets the viewport (CSS pixels, device scale 1; `mobile` below 700 px). */
  async viewport(width: number, height: number): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: width < 700,
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.browser.waitEvent("Page.loadEventFired", this.sessionId);
    const r = await this.send("Page.navigate", { url });
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /** Evaluates an expression in the page (promises awaited); returns its JSON value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    const ex = r.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined;
    if (ex) throw new Error(`page: ${ex.exception?.description ?? ex.text}`);
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy (or throws after `timeoutMs`). */
  async waitFor(expression: string, timeoutMs = 60_000, what = expression): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await this.eval<boolean>(`!!(${expression})`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Sets the files of an <input type=file> (fires its change event). */
  async setFiles(selector: string, files: string[]): Promise<void> {
    const { root } = await this.send("DOM.getDocument", { depth: 0 });
    const { nodeId } = await this.send("DOM.querySelector", {
      nodeId: (root as { nodeId: number }).nodeId,
      selector,
    });
    if (!nodeId) throw new Error(`no element matches ${selector}`);
    await this.send("DOM.setFileInputFiles", { nodeId, files });
  }

  /** Types one key (keyDown + keyUp) into the focused element / document. */
  async press(key: string): Promise<void> {
    const base = {
      key,
      text: key.length === 1 ? key : undefined,
      unmodifiedText: key.length === 1 ? key : undefined,
    };
    await this.send("Input.dispatchKeyEvent", { type: "keyDown", ...base });
    await this.send("Input.dispatchKeyEvent", { type: "keyUp", key });
  }

  /** A PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }
}
