// What we change inside @huggingface/tokenizers (pure JS, pinned at 0.2.0) so that its pipeline
// gives Hugging Face's Rust ids, and gives them fast. Each change replaces a method on this
// tokenizer's own normalizer, pre-tokenizer or model object; nothing shared is touched.
//
//  - BertNormalizer → ours (bert-normalizer.ts): the library walks UTF-16 code units with the JS
//    engine's Unicode tables and lowercases whole strings (final sigma), so CJK ideographs beyond the
//    BMP, characters added to Unicode after Rust's tables, and 'Σ' at the end of a word came out
//    differently. Ours also skips the character-by-character walk for plain ASCII text.
//  - BertPreTokenizer → ours: the library splits on `\s` and `\p{P}`, which disagree with Rust's
//    whitespace and (older) punctuation tables.
//  - WordPiece: each word is split on its own, so the pieces of a word are remembered (bounded map).
// Added-token matching ([CLS] written in a text…), WordPiece itself (code points, 100 per word)
// and decoding are the library's, and already agree with Rust.
import { BertNormalizer, BertPreTokenizer, Tokenizer as HfTokenizer, WordPiece } from '@huggingface/tokenizers';
import { BertNormalizerConfig, bertNormalizer, bertPreTokenize } from './bert-normalizer';

const MAX_REMEMBERED_WORDS = 200_000;

/**
 * Installs the changes above on `hf`, built from `tokenizerJson`. Returns which ones apply, so the
 * tokenizer can say whether its ids are Rust's (they are when the normalizer and pre-tokenizer are
 * BERT's, as for every BERT/DistilBERT checkpoint).
 */
export function patchLibrary(hf: HfTokenizer, tokenizerJson: Record<string, unknown>): { rustExact: boolean } {
  const normalizerConfig = tokenizerJson.normalizer as ({ type?: string } & BertNormalizerConfig) | null;
  const preTokenizerConfig = tokenizerJson.pre_tokenizer as { type?: string } | null;
  let patched = 0;

  if (hf.normalizer instanceof BertNormalizer && normalizerConfig?.type === 'BertNormalizer') {
    hf.normalizer.normalize = bertNormalizer(normalizerConfig);
    patched++;
  }
  if (hf.pre_tokenizer instanceof BertPreTokenizer && preTokenizerConfig?.type === 'BertPreTokenizer') {
    hf.pre_tokenizer.pre_tokenize_text = (text: string): string[] => bertPreTokenize(text);
    patched++;
  }

  const model = hf.model;
  if (model instanceof WordPiece) {
    const splitWords = model.encode.bind(model);
    const remembered = new Map<string, string[]>();
    model.encode = (words: string[]): string[] => {
      const pieces: string[] = [];
      for (const word of words) {
        let wordPieces = remembered.get(word);
        if (wordPieces === undefined) {
          if (remembered.size >= MAX_REMEMBERED_WORDS) remembered.clear();
          wordPieces = splitWords([word]);
          remembered.set(word, wordPieces);
        }
        for (const piece of wordPieces) pieces.push(piece);
      }
      return pieces;
    };
  }
  return { rustExact: patched === 2 && model instanceof WordPiece };
}
