/**
 * Building blocks for the PTB lexer (src/eval/ptb/lexer.ts): character classes and token
 * shapes of Stanford CoreNLP 3.4.1's English tokenizer, written as JavaScript regex source.
 *
 * Conventions (see `caseless`):
 * - Patterns are written case-sensitively and passed through `caseless` when compiled, which
 *   makes every ASCII letter *outside* a character class match both cases. That is the
 *   reference scanner's `%caseless` semantics: literal words ignore case, `[...]` classes do
 *   not (so `[A]bout` only matches a capital A, `[A-Z]+` only capitals).
 * - The reference scanner works on UTF-16 units of the Basic Multilingual Plane only; letters
 *   and digits outside it are not letters to it, hence the `BMP` guard on `\p{..}` classes.
 * - Only non-capturing groups are used, so the lexer can wrap a pattern in its own groups.
 */

/** Make ASCII letters outside `[...]` classes and escapes match either case. */
export function caseless(src: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      // Copy an escape untouched: \uXXXX, \p{...}, or a one-character escape.
      if (src[i + 1] === "u" && src[i + 2] !== "{") {
        out += src.slice(i, i + 6);
        i += 5;
      } else if ((src[i + 1] === "p" || src[i + 1] === "P") && src[i + 2] === "{") {
        const end = src.indexOf("}", i);
        out += src.slice(i, end + 1);
        i = end;
      } else {
        out += src.slice(i, i + 2);
        i += 1;
      }
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      continue;
    }
    const lo = c.toLowerCase();
    const up = c.toUpperCase();
    out += /[A-Za-z]/.test(c) && lo !== up ? `[${up}${lo}]` : c;
  }
  return out;
}

/** Only code points of the Basic Multilingual Plane (the reference lexer sees UTF-16 units). */
const BMP = String.raw`(?=[\0-\uFFFF])`;

/** Horizontal white space the lexer skips. */
export const SPACE = String.raw`[ \t\u00A0\u2000-\u200A\u3000]`;
/** Line breaks: each becomes one newline token (CR LF counts once). */
export const NEWLINE = String.raw`(?:\r\n|[\n\r\u2028\u2029\v\f\u0085])`;
/** A space or a line break. */
export const SPACENL = `(?:${SPACE}|${NEWLINE})`;

/** Java `Character.isLetter` on a BMP character. */
export const PLAIN_LETTER = String.raw`(?:${BMP}\p{L})`;
/** Decimal digits (BMP, plus the N'Ko digits the grammar adds). */
export const DIGIT = String.raw`(?:${BMP}\p{Nd}|[\u07C0-\u07C9])`;
/** Accented-letter entities such as `&eacute;`, which count as letters. */
const ENTITY_LETTER = String.raw`&[aeiouAEIOU](?:acute|grave|uml);`;
/** Marks and modifiers the grammar adds to the letter class. */
// Marks and modifiers the grammar adds to the letter class (soft hyphen, combining marks of
// several scripts, a few modifier symbols); a table of the reference's behaviour.
export const EXTRA_LETTER =
  String.raw`[\u00AD\u0237-\u024F\u02C2-\u02C5\u02D2-\u02DF\u02E5-\u02FF\u0300-\u036F` +
  String
    .raw`\u0370-\u037D\u0384\u0385\u03CF\u03F6\u03FC-\u03FF\u0483-\u0487\u04CF\u04F6-\u04FF\u0510-\u0525` +
  String.raw`\u055A-\u055F\u0591-\u05BD\u05BF\u05C1\u05C2\u05C4\u05C5\u05C7\u0615-\u061A\u063B-\u063F` +
  String
    .raw`\u064B-\u065E\u0670\u06D6-\u06EF\u06FA-\u06FF\u070F\u0711\u0730-\u074F\u0750-\u077F\u07A6-\u07B1` +
  String.raw`\u07CA-\u07F5\u07FA\u0900-\u0903\u093C\u093E-\u094E\u0951-\u0955\u0962-\u0963\u0981-\u0983` +
  String.raw`\u09BC-\u09C4\u09C7\u09C8\u09CB-\u09CD\u09D7\u09E2\u09E3\u0A01-\u0A03\u0A3C\u0A3E-\u0A4F` +
  String
    .raw`\u0A81-\u0A83\u0ABC-\u0ACF\u0B82\u0BBE-\u0BC2\u0BC6-\u0BC8\u0BCA-\u0BCD\u0C01-\u0C03\u0C3E-\u0C56` +
  String.raw`\u0D3E-\u0D44\u0D46-\u0D48\u0E30-\u0E3A\u0E47-\u0E4E\u0EB1-\u0EBC\u0EC8-\u0ECD]`;
/** A letter of a word token. */
export const LETTER = `(?:${PLAIN_LETTER}|${EXTRA_LETTER}|${ENTITY_LETTER})`;
/** Letter or digit of a word token. */
export const LETTER_DIGIT = `(?:${LETTER}|${DIGIT})`;
/** Java letter or digit (without the grammar's additions). */
export const PLAIN_ALNUM = `(?:${PLAIN_LETTER}|${DIGIT})`;

/** Words, also joined by `.`, `!`, `?` when a letter follows (`e.g`, `eye!nose`). */
export const WORD = String.raw`${LETTER}${LETTER_DIGIT}*(?:[.!?]${LETTER}${LETTER_DIGIT}*)*`;

/** Apostrophes: ASCII, right single quote (and its CP1252 code), the entity. */
export const APOS = String.raw`(?:['\u0092\u2019]|&apos;)`;
/** Apostrophe look-alikes that may sit inside a word. */
export const APOS_ANY = String.raw`(?:${APOS}|[\u0060\u0091\u2018\u201B])`;
/** Reduced auxiliaries split off a word: 's 'm 'd 're 've 'll. */
export const CLITIC = String.raw`${APOS}(?:[msdMSD]|re|ve|ll)`;
/** A word that precedes n't (cannot itself end in n). */
export const NEG_STEM = String.raw`[A-Za-z\u00AD]*[A-MO-Za-mo-z]\u00AD*`;
/** The negation clitic. */
export const NEG = String.raw`n${APOS_ANY}t`;

/** Words that keep an inner apostrophe (o'clock handled by THING, c'mon, 'em, rock 'n' roll). */
export const APOSTROPHE_WORDS: readonly string[] = [
  String.raw`${APOS}n${APOS}?`,
  String.raw`[lLdDjJ]${APOS}`,
  String.raw`Dunkin${APOS}`,
  String.raw`somethin${APOS}`,
  String.raw`ol${APOS}`,
  String.raw`${APOS}em`,
  String.raw`[A-HJ-XZn]${APOS_ANY}${PLAIN_LETTER}{2}${PLAIN_LETTER}*`,
  String.raw`${APOS}[2-9]0s`,
  String.raw`${APOS}till?`,
  String.raw`${PLAIN_LETTER}+[aeiouyAEIOUY]${APOS_ANY}[aeiouA-Z]${PLAIN_LETTER}*`,
  String.raw`${APOS}cause`,
  String.raw`cont'd\.?`,
  String.raw`'twas`,
  String.raw`nor'easter`,
  String.raw`c'mon`,
  String.raw`e'er`,
  String.raw`s'mores`,
  String.raw`ev'ry`,
  String.raw`li'l`,
  String.raw`nat'l`,
  String.raw`O${APOS_ANY}o`,
];

/** SGML/HTML-like tags: `<b>`, `</b>`, `<a href="x">`, `<!-- ... -->`, `<br />`. */
const NAME = String.raw`[A-Za-z][A-Za-z0-9_:.\-]*`;
export const SGML =
  String.raw`<(?:[!?][A-Za-z\-][^>\r\n]*|${NAME}(?:[ ]+(?:${NAME}[ ]*=[ ]*(?:'[^']*'|"[^"]*")|${NAME}))*` +
  String.raw`[ ]*\/?|\/${NAME})[ ]*>`;

const NOT_URL_END = String.raw`[^ \t\n\f\r"<>|.!?(){},\-]`;
/** `http://...` URLs; they cannot end in sentence punctuation. */
export const FULL_URL = String.raw`https?:\/\/[^ \t\n\f\r"<>|(){}]+${NOT_URL_END}`;
const URL_PATH = String.raw`(?:\/[^ \t\n\f\r"<>|()]+${NOT_URL_END})?`;
/**
 * `www.x.yy` and `x.com`-like URLs: a prefix, one or more `segment.` parts, then a tail (top
 * level domain and optional path). The host class of the second form holds the range
 * `,`..`_` (as the reference does), which excludes digits, capitals and `/`.
 * Greedy regex matching would take as many segments as possible even when fewer give a
 * longer URL ("www.a.uk/p2.pn g": segments "a." + tail "uk/p2.pn g"), so the lexer tries
 * the tail after every segment (`longestSegmented`).
 */
export interface SegmentedShape {
  /** Sticky regex for what comes before the first segment ("" = nothing). */
  prefix: RegExp | null;
  /** One character of a segment (segments never contain "."). */
  segmentChar: RegExp;
  /** Sticky regex for what follows the last segment's "."; its whole match counts. */
  tail: RegExp;
}
export const LIKELY_URLS: readonly SegmentedShape[] = [
  {
    prefix: new RegExp(caseless(String.raw`www\.`), "y"),
    segmentChar: /[^ \t\n\f\r"<>|.!?(){},]/,
    tail: new RegExp(caseless(String.raw`[a-zA-Z]{2,4}${URL_PATH}`), "uy"),
  },
  {
    prefix: null,
    segmentChar: /[^ \t\n\f\r"\u0060'<>|.!?(){},-_$]/,
    tail: new RegExp(caseless(String.raw`(?:com|net|org|edu)${URL_PATH}`), "uy"),
  },
];

/** Length of the longest match of `shape` at `pos`, or -1. Linear in the run it reads. */
export function longestSegmented(shape: SegmentedShape, text: string, pos: number): number {
  let i = pos;
  if (shape.prefix !== null) {
    shape.prefix.lastIndex = pos;
    const m = shape.prefix.exec(text);
    if (m === null) return -1;
    i += m[0].length;
  }
  let best = -1;
  for (;;) {
    let j = i;
    while (j < text.length && shape.segmentChar.test(text[j])) j++;
    if (j === i || text[j] !== ".") return best;
    i = j + 1;
    shape.tail.lastIndex = i;
    const t = shape.tail.exec(text);
    if (t !== null && i + t[0].length - pos > best) best = i + t[0].length - pos;
  }
}
const EMAIL_PART = String.raw`[^ \t\n\f\r"<>|(){}.\u00A0]+`;
/** E-mail addresses, optionally in angle brackets. */
export const EMAIL = String
  .raw`(?:&lt;|<)?[a-zA-Z0-9][^ \t\n\f\r"<>|()\u00A0{}]*@(?:${EMAIL_PART}\.)*${EMAIL_PART}(?:&gt;|>)?`;
/** `@handles` and `#tags`. */
export const TWITTER: readonly string[] = [String.raw`@[a-zA-Z_][a-zA-Z_0-9]*`, String.raw`#${LETTER}+`];

/** Dates like 10/20/2020 or 1-2-99. */
export const DATE = String.raw`${DIGIT}{1,2}[\-\/]${DIGIT}{1,2}[\-\/]${DIGIT}{2,4}`;
/** Numbers, signed, with `.`, `:`, `,` (and Arabic separators) between digit groups. */
export const NUMBERS: readonly string[] = [
  String.raw`[\-+]?${DIGIT}+`,
  String.raw`[\-+]?${DIGIT}*(?:[.:,\u00AD\u066B\u066C]${DIGIT}+)+`,
];
/** Superscript / subscript digit runs (x², H₂O). */
export const SUBSUP = String
  .raw`[\u207A\u207B\u208A\u208B]?(?:[\u2070\u00B9\u00B2\u00B3\u2074-\u2079]+|[\u2080-\u2089]+)`;
/** Fractions like 1/3 and 1 1/2 (the space becomes U+00A0). */
export const FRACTION = String.raw`(?:${DIGIT}{1,4}[\- \u00A0])?${DIGIT}{1,4}(?:\\?\/|\u2044)${DIGIT}{1,4}`;
/** Vulgar-fraction characters. */
export const FRACTION_CHAR = String.raw`[\u00BC\u00BD\u00BE\u2153-\u215E]`;

/** Fixed tokens: literal bracket names, pro-/anti-, S&P-500, Cap'n, c'est. */
export const SPECIALS: readonly string[] = [
  String.raw`-(?:RRB|LRB|RCB|LCB|RSB|LSB)-`,
  String.raw`C\.D\.s`,
  String.raw`pro-`,
  String.raw`anti-`,
  String.raw`S(?:&amp;|&)P-500`,
  String.raw`S(?:&amp;|&)Ls`,
  String.raw`Cap${APOS}n`,
  String.raw`c${APOS}est`,
];
/** Slash compounds: and/or, eye/nose, 24/7-like alphanumerics. */
export const SLASH_WORD = String
  .raw`[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?\/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}`;
/** Currency prefixes: US$, A$, $, #. */
export const DOLLARS: readonly string[] = [String.raw`[A-Z]*\$`, "#"];
/** Other currency signs. */
export const CURRENCY_CHAR = String
  .raw`[\u00A2\u00A3\u00A4\u00A5\u0080\u20A0\u20AC\u060B\u0E3F\u20A4\uFFE0\uFFE1\uFFE5\uFFE6]`;

const ACRO_SPECIAL = String.raw`(?:Canada|Sino|Korean|EU|Japan|non)-U\.S|U\.S\.-(?:U\.K|U\.S\.S\.R)`;
/**
 * A letter, or letters separated by periods (U.S, a.k.a), or U.S. compounds — as separate
 * alternatives, because the lexer needs the longest of them ("U.S.-U.K." vs "U.S.") and a JS
 * alternation would stop at the first that fits.
 */
export const ACRO_ALTS: readonly string[] = [
  String.raw`[A-Za-z](?:\.[A-Za-z])*`,
  String.raw`(?:Canada|Sino|Korean|EU|Japan|non)-U\.S`,
  String.raw`U\.S\.-(?:U\.K|U\.S\.S\.R)`,
];
/** Like ACRO but at least two letters. */
export const ACRO2 = String.raw`(?:[A-Za-z](?:\.[A-Za-z])+|${ACRO_SPECIAL})`;

// Capitalised words after which an acronym's final period also ends the sentence. The first
// letter is a class (case-sensitive), the rest is caseless.
const SENTENCE_STARTERS = [
  "About",
  "According",
  "Additionally",
  "After",
  "An",
  "A",
  "As",
  "At",
  "But",
  "Earlier",
  "He",
  "Her",
  "Here",
  "However",
  "If",
  "In",
  "It",
  "Last",
  "Many",
  "More",
  "Mr\\.",
  "Ms\\.",
  "Now",
  "Once",
  "One",
  "Other",
  "Our",
  "She",
  "Since",
  "So",
  "Some",
  "Such",
  "That",
  "The",
  "Their",
  "Then",
  "There",
  "These",
  "They",
  "This",
  "We",
  "When",
  "While",
  "What",
  "Yet",
  "You",
].map((w) => `[${w[0]}]${w.slice(1)}`);
/** What must follow an acronym for its period to be split off as well. */
export const SENTENCE_START = `${SPACENL}+(?:${SENTENCE_STARTERS.join("|")}|${SGML})${SPACENL}`;

/** Abbreviations kept only before a number (fig. 3, no. 5, ca. 50). */
export const NUMBER_ABBREV = String.raw`(?:ca|figs?|prop|nos?|art|bldg|pp|op)\.`;

// Abbreviations usually followed by a lower-case word (months, days, states, companies...).
const AB_MONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec";
const AB_DAY = "Mon|Tue|Tues|Wed|Thu|Thurs|Fri";
const AB_STATE =
  "Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans?|Ky|[L]a|[M]ass|Md|" +
  "Mich|Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc?|Wyo";
const AB_COMPANY = "Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys";
const AB_NUMBER = "tel|est|ext|sq";
const AB_PERSON = String.raw`Jr|Sr|Bros|(?:Ed|Ph)\.D|Blvd|Rd|Esq`;
/** Abbreviation + period usually followed by lower case (the period may also end a sentence). */
export const ABBREV_LOWER = `(?:${AB_MONTH}|${AB_DAY}|${AB_STATE}|${AB_COMPANY}|${AB_NUMBER}|${AB_PERSON}|` +
  String.raw`etc|al|seq|Bldg)\.`;

// Abbreviations usually followed by a capitalised word (titles).
const AB_TITLE = "Mr|Mrs|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|" +
  "Cpl|Pvt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|" +
  "Mlle|Mme|Msgr|Sfc";
const AB_COMPANY2 = "Invt|Elec|Natl|M[ft]g|Dept";
/** Title-like abbreviations without their period: the acronym shapes, then the word list. */
export const ABBREV_TITLES: readonly string[] = [
  ...ACRO_ALTS,
  String.raw`(?:${AB_TITLE}|vs|Alex|Wm|Jos|Cie|a\.k\.a|cf|TREAS|Ph|${AB_COMPANY2})`,
];

/** Sentence-final look: a space/line break, then another, a capital, or a tag. */
export const SENTENCE_END = String.raw`${SPACENL}(?:${SPACENL}|${BMP}\p{Uppercase}|${SGML})`;

const FILE_EXT = "bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|" +
  "php|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip";
/** File names with a known extension (face.png). */
export const FILENAME = String.raw`${LETTER_DIGIT}+(?:\.${LETTER_DIGIT}+)*\.(?:${FILE_EXT})`;
/** In-sentence punctuation. */
export const INSENTP = String.raw`[,;:\u3001]`;

/** Phone numbers: (555) 123-4567, 555 123 4567, 555.123.4567. */
export const PHONES: readonly string[] = [
  String.raw`\([0-9]{2,3}\)[ \u00A0]?[0-9]{3,4}[\- \u00A0]?[0-9]{3,5}`,
  String.raw`(?:\+\+?)?(?:[0-9]{2,4}[\- \u00A0])?[0-9]{2,4}[\- \u00A0][0-9]{3,4}[\- \u00A0]?[0-9]{3,5}`,
  String.raw`(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}`,
];
/** Double quote, ASCII or entity. */
export const DOUBLE_QUOTE = String.raw`(?:"|&quot;)`;
/** Western smileys such as :) ;-) :D (only when no letter/digit follows). */
export const SMILEY = String.raw`[<>]?[:;=][\-o*']?[()DPdpO\\{@|\[\]]`;
/** Asian smileys such as ^_^ and (-_-). */
export const ASIAN_SMILEYS: readonly string[] = [
  String.raw`[\^x=~<>]\.\[\^x=~<>\]`,
  String.raw`[\-\^x=~<>']_[\-\^x=~<>']`,
  String.raw`\([\-\^x=~<>'][_.]?[\-\^x=~<>']\)`,
  String.raw`\([\^x=~<>']-[\^x=~<>'\u0060]\)`,
];
/** Ellipses: 3-5 periods, spaced periods, or the ellipsis characters. */
export const ELLIPSES: readonly string[] = [
  String.raw`\.{3,5}`,
  String.raw`(?:\.[ \u00A0]){2,4}\.`,
  String.raw`[\u0085\u2026]`,
];
/** Hyphen characters that join parts of a THING. */
const JOINER = String.raw`[\-_\u058A\u2010\u2011]`;
const APOS_PREFIX = String.raw`(?:[dDoOlL]${APOS_ANY}${PLAIN_ALNUM})?`;
/** Alphanumeric runs joined by hyphens (with d'/o'/l' prefixes): x-ray-like, o'clock. */
export const THING = String.raw`${APOS_PREFIX}${PLAIN_ALNUM}+(?:${JOINER}${APOS_PREFIX}${PLAIN_ALNUM}+)*`;
/** Capital runs joined by + or & (AT&T, R&D). */
export const CAPS_AMP = String.raw`[A-Z]+(?:(?:&amp;|[+&])[A-Z]+)+`;
/** Hyphenated words that may hold periods/commas before the first hyphen (3.5-inch). */
export const HYPHENATED = String.raw`[A-Za-z0-9][A-Za-z0-9.,\u00AD]*(?:-(?:${ACRO2}\.|[A-Za-z0-9\u00AD]+))+`;
/** Quote characters: apostrophes, '' and 1-2 of the typographic quotes. */
export const QUOTE_FORMS: readonly string[] = [
  APOS,
  "''",
  String
    .raw`[\u0060\u2018\u2019\u201A\u201B\u201C\u201D\u0091\u0092\u0093\u0094\u201E\u201F\u2039\u203A\u00AB\u00BB]{1,2}`,
];
/** Stand-alone symbols (math, arrows, dingbats, fullwidth punctuation, ...). */
export const MISC_SYMBOL =
  String.raw`[+%&~\^|\\\u00A6\u00A7\u00A8\u00A9\u00AC\u00AE\u00AF\u00B0-\u00BA\u00D7\u00F7\u0387` +
  String
    .raw`\u05BE\u05C0\u05C3\u05C6\u05F3\u05F4\u0600-\u0603\u0606-\u060A\u060C\u0614\u061B\u061E\u066A\u066D` +
  String.raw`\u0703-\u070D\u07F6\u07F7\u07F8\u0964\u0965\u0E4F\u1FBD\u2016\u2017\u2020-\u2023\u2030-\u2038` +
  String
    .raw`\u203B\u203E-\u2042\u2044\u207A-\u207F\u208A-\u208E\u2100-\u214F\u2190-\u21FF\u2200-\u2BFF\u3012` +
  String.raw`\u30FB\uFF01-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40\uFF5B-\uFF65]`;
