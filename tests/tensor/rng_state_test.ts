/**
 * Regression test for exact resume (issue 10, fault 8): every random stream (Rng, each
 * Dropout's generator through Module.rngState) and the loss scaler expose their state, and
 * restoring it reproduces the same later draws / masks / scales.
 * Run: .tools/deno test -A tests/tensor/rng_state_test.ts
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { ones, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { Module } from "../../src/nn/module.ts";
import { Dropout } from "../../src/nn/dropout.ts";
import { LossScaler } from "../../src/train/loss_scale.ts";
import { noLeak } from "../helpers.ts";

function draws(r: Rng): number[] {
  const out: number[] = [];
  for (let i = 0; i < 50; i++) out.push(r.uniform(), r.normal(), r.int(1000), r.truncNormal(0.5));
  return out;
}

Deno.test("Rng: state() / setState() reproduce every later draw, including a pending normal", () => {
  const r = new Rng(42);
  draws(r);
  r.normal(); // leaves a spare Box–Muller value pending
  const st = JSON.parse(JSON.stringify(r.state())); // survives a JSON checkpoint
  const a = draws(r);
  assertEquals(draws(new Rng(7).setState(st)), a);
  assertEquals(draws(r.setState(st)), a);
  assertThrows(() => r.setState({ s: [0, 0, 0, 0], spare: null }), Error, "not all 0");
  assertThrows(() => r.setState({ s: [1, 2, 3], spare: null } as never), Error, "Rng.setState");
});

class Net extends Module {
  readonly d1 = this.child("d1", new Dropout(0.5, new Rng(1)));
  readonly d2 = this.child("d2", new Dropout(0.3, new Rng(2)));
  forward(x: Tensor): Tensor {
    return this.d2.forward(this.d1.forward(x));
  }
}

Deno.test("Module.rngState / loadRngState: dropout masks after a restore are the same", () => {
  noLeak(() => {
    const net = new Net();
    const masks = () => tidy(() => [0, 1, 2].map(() => net.forward(ones([64])).toArray()));
    masks();
    const st = JSON.parse(JSON.stringify(net.rngState()));
    assertEquals(Object.keys(st), ["d1", "d2"]);
    const a = masks();
    const fresh = new Net();
    fresh.loadRngState(st);
    assertEquals(tidy(() => [0, 1, 2].map(() => fresh.forward(ones([64])).toArray())), a);
    net.loadRngState(st);
    assertEquals(masks(), a);
    assertThrows(() => net.loadRngState({ d1: st.d1 }), Error, "'d2'");
    assertThrows(() => net.loadRngState({ ...st, d3: st.d1 }), Error, "'d3'");
  });
});

Deno.test("LossScaler: state() / setState() resume the scale schedule exactly", () => {
  noLeak(() => {
    const p = tensor([0], [1]).requireGrad();
    p.grad = tensor([1], [1]);
    const run = (s: LossScaler, overflow: boolean[]) =>
      overflow.map((o) => {
        p.grad!.set([o ? Infinity : 1]);
        s.check([p]);
        s.update();
        return s.scale;
      });
    const pattern = [false, false, true, false, false, false, false, true, false, false];
    const a = new LossScaler({ initScale: 1024, growthInterval: 3 });
    run(a, pattern.slice(0, 4));
    const st = JSON.parse(JSON.stringify(a.state()));
    const rest = run(a, pattern.slice(4));
    const b = new LossScaler({ growthInterval: 3 });
    b.setState(st);
    assertEquals(run(b, pattern.slice(4)), rest);
    assertEquals(b.skipped, a.skipped);
    assertThrows(() => b.setState({ scale: -1, clean: 0, skipped: 0 }), Error, "bad state");
    p.dispose();
  });
});
