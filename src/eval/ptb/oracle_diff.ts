/**
 * Differential check of our PTB tokenizer against the real CoreNLP 3.4.1 `PTBTokenizer`
 * (built by scripts/ptb_oracle.sh, never part of this repository): generated caption runs are
 * tokenized by both, exactly as pycocoevalcap drives the jar (captions joined with "\n",
 * `-preserveLines -lowerCase`), and the raw output lines are compared.
 *
 *   eval "$(bash scripts/ptb_oracle.sh PATH_TO_CORENLP)"
 *   .tools/deno run --allow-read --allow-write --allow-run --allow-env src/eval/ptb/oracle_diff.ts \
 *     [--seed 1] [--runs 10] [--captions 1500]
 * Exit status 1 when any line differs (the first ones are printed, non-ASCII escaped).
 */
import { ptbTokenizerOutput } from "../ptb_tokenizer.ts";

// Fragments that exercise the lexer's rules: abbreviations, clitics, URLs, smileys, tags,
// entities, numbers, quotes, dashes, scripts, invisible and line-breaking characters.
const FRAGMENTS: readonly string[] = (
  "a A the The It U.S. U.S etc. e.g. i.e. Mr. Dr Inc. Jan. fig. no. No. ca. pty. Ltd co. cannot gonna " +
  "'tis 'twas don't can't you're it's I'm y'all o'clock 'em '90s '90 O'Neill c'mon http://x.com/a " +
  "https://a.b/c?d=e www.a.org a.com x.edu/y a@b.com <a@b.c> @user #tag #1 :) :-( ;) :D :P =] ^_^ (-_-) " +
  "<3 <b> </b> <!--\u00a0c\u00a0--> &amp; &lt; &gt; &quot; &apos; &nbsp; &mdash; &eacute; &Amp; &APOS; " +
  "AT&T R&D S&P-500 1/2 10/20/2020 3.14 1,000 -5 +3 .5 12:30 555-1234 \u00bd \u00bc \u20ac \u00a3 \u00a2 $ " +
  "US$ x\u00b2 H\u2082O ... .. \u2026 -- --- - \u2014 \u2013 ! ? !! ?! \" ' ` `` '' \u2018 \u2019 \u201c \u201d " +
  "\u00ab \u00bb \u201e ( ) [ ] { } -LRB- -RRB- * ** \\* / \\/ = + % & ~ ^ | _ __ c++ C# face.png 2.png " +
  "a.jpg x-ray state-of-the-art non-U.S. pro- anti- 1st 3x3 A. B. Ph.D. a.k.a. caf\u00e9 \u039f\u0394\u039f\u03a3 " +
  "\u5de6\u773c \u3002 \uff0c soft\u00adhyphen \u200b \u00a0 Calif. Mass. vs. cf. St. Ave. al. seq. Ed.D " +
  "Cap'n c'est nor'easter 'cause 'till somethin' ol' d'Arc n't 's 'RE N'T WON'T isn`t it\u2019s x' 'x " +
  '$5 5$ 3-4 a/b and/or 24/7 word. word, Word: word; U.S.-U.K. Canada-U.S. <a\u00a0b="c\u00a0d"> ' +
  "<br/> 1-1/2 (12)\u00a0345-6789 12.345.6789 @_a1 \u2160 \u0130 \u00df \ufb01 \u0661\u0662 \uff21 " +
  "e\u0301 \u200c \ufeff \u007f \u0093x\u0094 \u0096 \u0092s A-B., ab-c.; AB&C., x.y.z, e.g.;"
).split(" ").map((f) => f.replaceAll("\u00a0", " "));
const LINE_BREAKS = ["\r", "\u2028", "\u2029", "\u000b", "\u000c", "\u0085"];
const SEPARATORS = [" ", " ", " ", "", "  ", "\t"];
const HOSTILE = Array.from(
  "aAzZeE019 .,;:!?'\"`-_/\\*&#@$%()[]{}<>=+~^|xXoOnNtTsSdDmMlLrRvV\u00a0\u2019\u201c\u2014\u2026\u00ad\u00bd\u00b2\u20ac",
);

/** sfc32-like small generator: deterministic per seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `n` generated captions: fragment sequences, fixture captions with insertions, random strings. */
export function generateCaptions(seed: number, n: number, base: readonly string[]): string[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    let t = "";
    if (kind < 0.2) {
      for (let k = 1 + Math.floor(r() * 20); k > 0; k--) t += pick(HOSTILE);
    } else if (kind < 0.45 && base.length > 0) {
      const cs = Array.from(pick(base));
      for (let k = 0; k < 3; k++) cs.splice(Math.floor(r() * (cs.length + 1)), 0, pick(FRAGMENTS));
      t = cs.join("");
    } else {
      for (let k = 1 + Math.floor(r() * 8); k > 0; k--) t += (t ? pick(SEPARATORS) : "") + pick(FRAGMENTS);
    }
    if (r() < 0.01) t += pick(LINE_BREAKS) + pick(FRAGMENTS);
    out.push(t);
  }
  return out;
}

/** Raw `PTBTokenizer -preserveLines -lowerCase` output of `text` from the reference build. */
export function oracleOutput(classes: string, text: string): string {
  const file = Deno.makeTempFileSync({ suffix: ".txt" });
  try {
    Deno.writeTextFileSync(file, text);
    const res = new Deno.Command("java", {
      args: ["-cp", classes, "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", file],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!res.success) throw new Error(`oracle_diff: java exited with ${res.code}`);
    return new TextDecoder().decode(res.stdout);
  } finally {
    Deno.removeSync(file);
  }
}

const escape = (s: string | undefined) =>
  JSON.stringify(s)?.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

if (import.meta.main) {
  const opt = (k: string, d: number) => {
    const i = Deno.args.indexOf(k);
    return i >= 0 ? Number(Deno.args[i + 1]) : d;
  };
  const classes = Deno.env.get("FT_PTB_ORACLE_CLASSES");
  if (!classes) {
    console.error(
      'oracle_diff: set FT_PTB_ORACLE_CLASSES: eval "$(bash scripts/ptb_oracle.sh PATH_TO_CORENLP)"',
    );
    Deno.exit(2);
  }
  const fixture = JSON.parse(
    Deno.readTextFileSync(new URL("../../../tests/fixtures/eval/ptb_3_4_1.json", import.meta.url)),
  );
  const base: string[] = fixture.cases.map((c: { input: string }) =>
    c.input.replace(/[\r\n\v\f\u2028\u2029]/g, " ")
  );
  const seed0 = opt("--seed", 1), runs = opt("--runs", 10), n = opt("--captions", 1500);
  let total = 0, bad = 0;
  for (let run = 0; run < runs; run++) {
    const joined = generateCaptions(seed0 + run, n, base).map((c) => c.replaceAll("\n", " ")).join("\n");
    const want = oracleOutput(classes, joined).split("\n");
    const got = ptbTokenizerOutput(joined).split("\n");
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      total++;
      if (want[i] === got[i]) continue;
      if (++bad <= 10) {
        console.log(`seed ${seed0 + run} line ${i}\n  java ${escape(want[i])}\n  ours ${escape(got[i])}`);
      }
    }
  }
  console.log(`${runs} runs of ${n} captions: ${bad} of ${total} output lines differ`);
  if (bad > 0) Deno.exit(1);
}
