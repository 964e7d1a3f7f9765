import assert from "node:assert/strict";
import { regionLabels, regionNames, REGIONS } from "../../src/data/regions.ts";

Deno.test("REGIONS has the 21 classes in the official order", () => {
  assert.equal(REGIONS.length, 21);
  assert.equal(REGIONS[0], "eye");
  assert.equal(REGIONS[10], "eyebrow");
  assert.equal(REGIONS[20], "dimple");
});

Deno.test("regionLabels: eyebrow vs brow vs eye", () => {
  assert.deepEqual(regionNames("The left eyebrow is too thick."), ["eyebrow"]);
  assert.deepEqual(regionNames("Her brow looks smooth."), ["forehead"]);
  assert.deepEqual(regionNames("Eyebrows and EYES were edited"), ["eye", "eyebrow"]);
  // "brows" is a forehead synonym, but "eyebrows" does not contain it as a word.
  assert.deepEqual(regionNames("both eyebrows"), ["eyebrow"]);
});

Deno.test("regionLabels: plurals, hyphens, multi-word synonyms", () => {
  assert.deepEqual(regionNames("the left-eye region and upper-lip"), ["eye", "lip"]);
  assert.deepEqual(regionNames("lips and teeth"), ["lip", "tooth"]);
  // plural forms that the table does not list do not match
  assert.deepEqual(regionNames("cheekbones and eyelids"), []);
  assert.deepEqual(regionNames("thin facial hair on the chin"), ["chin", "beard", "hair"]);
  assert.deepEqual(regionNames("inside the oral cavity"), ["mouth"]);
  assert.deepEqual(regionNames("oral  cavity"), []);
  assert.deepEqual(regionNames("buccal area"), ["mouth", "cheek"]);
  assert.deepEqual(regionNames("fine lines near the mouth"), ["mouth", "wrinkle"]);
  assert.deepEqual(regionNames("no beard, MUSTACHE_ok"), ["beard"]);
  assert.deepEqual(regionNames("nose."), ["nose"]);
  assert.deepEqual(regionNames("earring, earlier, hearing"), []);
});

Deno.test("regionLabels returns 21 zeros/ones", () => {
  const l = regionLabels("The pupils, the skin and a scar; a dimple near the jaw.");
  assert.equal(l.length, 21);
  assert.equal(l.reduce((a, b) => a + b, 0), 5);
  assert.deepEqual(
    REGIONS.filter((_, i) => l[i]),
    ["pupil", "jaw", "skin", "scar", "dimple"],
  );
});
