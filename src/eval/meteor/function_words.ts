/**
 * English function words for METEOR's content/function weighting (delta = 0.75 weighs
 * content words, 1 - delta function words). METEOR 1.5 ships its own frequency-derived
 * list (resources/function/english.words, 93 entries incl. punctuation), which we do not
 * ship; this is our closed-class substitute (articles, pronouns, prepositions, conjunctions,
 * auxiliaries, modals, determiners, particles and clitic pieces). It only changes weights,
 * never which words match. `eval "$(bash scripts/meteor_resources.sh PATH_TO_METEOR)"` points
 * FT_METEOR_FUNCTION_WORDS at the original; the differences on the PTB fixture captions are
 * listed in docs/eval.md (src/eval/meteor/resource_diff.ts prints them).
 */
export const DEFAULT_FUNCTION_WORDS: readonly string[] = (
  "a an the this that these those some any each every either neither no none all both half " +
  "another other such what which whose whatever whichever " +
  "i me my mine myself you your yours yourself yourselves he him his himself she her hers " +
  "herself it its itself we us our ours ourselves they them their theirs themselves " +
  "one ones oneself who whom whoever someone somebody something anyone anybody anything " +
  "everyone everybody everything nobody nothing " +
  "about above across after against along amid among around as at before behind below " +
  "beneath beside besides between beyond but by despite down during except for from in " +
  "inside into like near of off on onto out outside over past per since than through " +
  "throughout till to toward towards under underneath unlike until unto up upon via with " +
  "within without " +
  "and or nor so yet because although though while whereas if unless whether once " +
  "when whenever where wherever why how then there here also too very not " +
  "be am is are was were been being have has had having do does did doing done " +
  "will would shall should can could may might must ought " +
  "'s 's ' s t n 'll ll 're re 've ve 'd d 'm m n't " +
  "just only even ever never again still already more most much many few less least " +
  "own same just quite rather"
).split(" ").filter((w, i, a) => w.length > 0 && a.indexOf(w) === i);
