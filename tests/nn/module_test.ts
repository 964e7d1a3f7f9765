/**
 * Module base: dotted names, state-dict round trips, strict / non-strict loading, freeze,
 * zeroGrad, train / eval, ownership (built inside tidy, freed by dispose), and initialisers.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { backward } from "../../src/autograd/tape.ts";
import { sum } from "../../src/ops/reduce.ts";
import { Module, ModuleList } from "../../src/nn/module.ts";
import { Linear } from "../../src/nn/linear.ts";
import { LayerNorm, RMSNorm } from "../../src/nn/norm.ts";
import * as init from "../../src/nn/init.ts";
import { assertClose, noLeak } from "../helpers.ts";

class Block extends Module {
  readonly fc: Linear;
  readonly ln: LayerNorm;
  readonly scale: Tensor;
  constructor(d: number, rng: Rng) {
    super();
    this.ln = this.child("ln", new LayerNorm(d));
    this.fc = this.child("fc", new Linear(d, d, { rng }));
    this.scale = this.buffer("scale", tensor([2], [1]));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.ln.forward(x));
  }
}

class Net extends Module {
  readonly blocks: ModuleList<Block>;
  readonly head: Linear;
  constructor(rng: Rng) {
    super();
    this.blocks = this.child("blocks", new ModuleList([new Block(4, rng), new Block(4, rng)]));
    this.head = this.child("head", new Linear(4, 2, { rng, bias: false }));
  }
  forward(x: Tensor): Tensor {
    for (const b of this.blocks) x = b.forward(x);
    return this.head.forward(x);
  }
}

Deno.test("Module: dotted names, buffers, parameter counts", () => {
  noLeak(() => {
    const net = new Net(new Rng(0));
    assertEquals(net.namedParameters().map(([n]) => n), [
      "blocks.0.ln.weight",
      "blocks.0.ln.bias",
      "blocks.0.fc.weight",
      "blocks.0.fc.bias",
      "blocks.1.ln.weight",
      "blocks.1.ln.bias",
      "blocks.1.fc.weight",
      "blocks.1.fc.bias",
      "head.weight",
    ]);
    assertEquals(net.namedBuffers().map(([n]) => n), ["blocks.0.scale", "blocks.1.scale"]);
    assertEquals(net.numParameters(), 2 * (4 + 4 + 16 + 4) + 8);
    assertEquals([...net.stateDict().keys()].slice(0, 6), [
      "blocks.0.scale",
      "blocks.0.ln.weight",
      "blocks.0.ln.bias",
      "blocks.0.fc.weight",
      "blocks.0.fc.bias",
      "blocks.1.scale",
    ], "PyTorch order: own parameters, own buffers, then children");
    assertEquals(net.stateDict().size, 11);
    assertEquals(net.namedModules().map(([n]) => n), [
      "",
      "blocks",
      "blocks.0",
      "blocks.0.ln",
      "blocks.0.fc",
      "blocks.1",
      "blocks.1.ln",
      "blocks.1.fc",
      "head",
    ]);
    net.dispose();
  });
});

Deno.test("Module: state-dict round trip reproduces the forward; built inside tidy, weights survive", () => {
  noLeak(() => {
    const a = tidy(() => new Net(new Rng(1))); // parameters are kept: tidy must not free them
    const b = new Net(new Rng(2));
    const x = tensor(Array.from({ length: 12 }, (_, i) => Math.sin(i)), [3, 4]);
    const [ya, yb] = tidy(() => [a.forward(x).toArray(), b.forward(x).toArray()]);
    assert(ya.some((v, i) => v !== yb[i]));
    a.blocks.at(0).scale.set([5]);
    const r = b.loadStateDict(a.stateDict());
    assertEquals(r, { missing: [], unexpected: [] });
    assertEquals(tidy(() => b.forward(x).toArray()), ya);
    assertEquals(b.blocks.at(0).scale.toArray(), [5]);
    // the module keeps its own tensors: mutating a does not change b
    a.head.weight.set(new Float32Array(8));
    assert(b.head.weight.toArray().some((v) => v !== 0));
    x.dispose();
    a.dispose();
    b.dispose();
  });
});

Deno.test("Module: loadStateDict checks keys and shapes and writes nothing on error", () => {
  noLeak(() => {
    const net = new Net(new Rng(3));
    const before = net.head.weight.toArray();
    const sd = new Map(net.stateDict());
    const wrong = tensor(new Float32Array(4), [4, 1]);
    sd.set("blocks.1.fc.bias", wrong);
    sd.set("head.weight", tensor(new Float32Array(8), [2, 4]));
    assertThrows(
      () => net.loadStateDict(sd, { source: "ck.safetensors" }),
      /from 'ck\.safetensors': 'blocks\.1\.fc\.bias' has shape \(4,1\), module expects \(4\)/,
    );
    assertEquals(net.head.weight.toArray(), before, "no partial load");
    sd.get("head.weight")!.dispose();
    sd.delete("head.weight");
    sd.delete("blocks.1.fc.bias");
    const extra = tensor([1], [1]);
    sd.set("extra.x", extra);
    assertThrows(
      () => net.loadStateDict(sd),
      /missing keys \[blocks\.1\.fc\.bias, head\.weight\]; unexpected keys \[extra\.x\]/,
    );
    assertEquals(net.loadStateDict(sd, { strict: false }), {
      missing: ["blocks.1.fc.bias", "head.weight"],
      unexpected: ["extra.x"],
    });
    const asInt = tensor([1, 2, 3, 4], [4], { dtype: "int32" });
    assertThrows(
      () => net.loadStateDict({ "blocks.0.ln.bias": asInt }, { strict: false }),
      /is int32, module expects float32/,
    );
    for (const t of [wrong, extra, asInt]) t.dispose();
    net.dispose();
  });
});

Deno.test("Module: freeze / unfreeze, zeroGrad, train / eval, registration errors", () => {
  noLeak(() => {
    const net = new Net(new Rng(4));
    const x = tensor(Array.from({ length: 8 }, (_, i) => i / 8), [2, 4]);
    tidy(() => backward(sum(net.forward(x))));
    assert(net.parameters().every((p) => p.grad !== null));
    net.blocks.at(0).freeze();
    assertEquals(net.numParameters(true), net.numParameters() - 28);
    assert(net.blocks.at(0).parameters().every((p) => !p.requiresGrad && p.grad === null));
    net.zeroGrad();
    assert(net.parameters().every((p) => p.grad === null));
    tidy(() => backward(sum(net.forward(x))));
    assert(net.blocks.at(0).parameters().every((p) => p.grad === null), "frozen get no grad");
    assert(net.blocks.at(1).parameters().every((p) => p.grad !== null));
    net.unfreeze();
    assert(net.parameters().every((p) => p.requiresGrad));
    net.eval();
    assert(net.namedModules().every(([, m]) => !m.training));
    net.train();
    assert(net.blocks.at(1).fc.training);
    class Twice extends Module {
      constructor() {
        super();
        this.child("m", new Module());
        this.child("m", new Module());
      }
    }
    class Dotted extends Module {
      constructor() {
        super();
        this.param("a.b", tensor([1], [1])); // rejected before it is kept, so tidy frees it
      }
    }
    assertThrows(() => new Twice(), /'m' is registered twice/);
    assertThrows(() => tidy(() => new Dotted()), /bad member name 'a\.b'/);
    assertThrows(() => new ModuleList().at(0), /index 0 out of range/);
    x.dispose();
    net.dispose(); // frees parameters, grads and buffers: noLeak checks it
  });
});

Deno.test("Linear, LayerNorm, RMSNorm forward against float64", () => {
  noLeak(() => {
    const lin = new Linear(3, 2, { rng: new Rng(5) });
    const x = tensor([1, 2, 3, -1, 0, 0.5], [2, 3]);
    const w = lin.weight.toArray(), b = lin.bias!.toArray();
    const ref = [0, 1].flatMap((r) =>
      [0, 1].map((o) => b[o] + [0, 1, 2].reduce((s, i) => s + x.toArray()[r * 3 + i] * w[o * 3 + i], 0))
    );
    assertClose(tidy(() => lin.forward(x).toArray()), ref, { what: "linear" });
    for (const v of [...w, ...b]) assert(Math.abs(v) <= 1 / Math.sqrt(3), "torch default bound");
    const ln = new LayerNorm(3, { eps: 1e-5 }), rms = new RMSNorm(3);
    ln.weight!.set([1, 2, 3]);
    ln.bias!.set([0, 1, 0]);
    const rows = [[1, 2, 3], [-1, 0, 0.5]];
    const lref = rows.flatMap((r) => {
      const m = r.reduce((s, v) => s + v, 0) / 3, va = r.reduce((s, v) => s + (v - m) ** 2, 0) / 3;
      return r.map((v, i) => ((v - m) / Math.sqrt(va + 1e-5)) * [1, 2, 3][i] + [0, 1, 0][i]);
    });
    const rref = rows.flatMap((r) => {
      const ms = r.reduce((s, v) => s + v * v, 0) / 3;
      return r.map((v) => v / Math.sqrt(ms + 1e-6));
    });
    assertClose(tidy(() => ln.forward(x).toArray()), lref, { rtol: 1e-4, what: "layerNorm" });
    assertClose(tidy(() => rms.forward(x).toArray()), rref, { rtol: 1e-5, what: "rmsNorm" });
    for (const t of [lin, ln, rms, x]) t.dispose();
  });
});

Deno.test("init: fans, bounds, moments and seeding", () => {
  noLeak(() => {
    assertEquals(init.fans([8, 3, 3, 3]), { fanIn: 27, fanOut: 72 });
    const stats = (t: Tensor) => {
      const v = t.toArray();
      const m = v.reduce((s, x) => s + x, 0) / v.length;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
      return { m, sd, max: Math.max(...v.map(Math.abs)) };
    };
    const shape = [200, 100];
    const cases: [string, Tensor, number, number | null][] = [
      // name, tensor, expected std, hard bound
      ["xavierUniform", init.xavierUniform(shape, new Rng(1)), Math.sqrt(2 / 300), Math.sqrt(6 / 300)],
      ["xavierNormal", init.xavierNormal(shape, new Rng(1)), Math.sqrt(2 / 300), null],
      [
        "kaimingUniform relu",
        init.kaimingUniform(shape, new Rng(1), { nonlinearity: "relu" }),
        Math.sqrt(2 / 100),
        Math.sqrt(6 / 100),
      ],
      [
        "kaimingNormal fan_out",
        init.kaimingNormal(shape, new Rng(1), { nonlinearity: "relu", mode: "fan_out" }),
        Math.sqrt(2 / 200),
        null,
      ],
      // ±2σ truncation shrinks the std by a factor 0.8796
      ["truncNormal", init.truncNormal(shape, new Rng(1)), 0.02 * 0.8796, 0.04],
    ];
    for (const [name, t, sd, bound] of cases) {
      const s = stats(t);
      assert(Math.abs(s.m) < 0.05 * sd * 10, `${name} mean ${s.m}`);
      assert(Math.abs(s.sd / sd - 1) < 0.03, `${name} std ${s.sd} vs ${sd}`);
      if (bound !== null) assert(s.max <= bound + 1e-7, `${name} max ${s.max} > ${bound}`);
      t.dispose();
    }
    const a = init.kaimingUniform([4, 4], new Rng(9)), b = init.kaimingUniform([4, 4], new Rng(9));
    assertEquals(a.toArray(), b.toArray(), "same seed, same weights");
    assertEquals(init.gain("leaky_relu", Math.sqrt(5)), Math.sqrt(2 / 6));
    const o = init.ones([2]);
    assertEquals(o.toArray(), [1, 1]);
    for (const t of [a, b, o]) t.dispose();
  });
});
