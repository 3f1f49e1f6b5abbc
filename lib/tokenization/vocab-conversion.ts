// tokenizer.json from a BERT vocab.txt, for checkpoints that only ship the older file: what
// transformers' BertConverter (convert_slow_tokenizer.py) writes, built in memory, so both kinds of
// folder run the same tokenizer code.

/** The parts of tokenizer_config.json we read. Token values may be strings or {content} objects. */
export interface TokenizerConfig {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  unk_token?: unknown;
  sep_token?: unknown;
  pad_token?: unknown;
  cls_token?: unknown;
  mask_token?: unknown;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean; lstrip?: boolean; rstrip?: boolean; single_word?: boolean; normalized?: boolean }>;
  [key: string]: unknown;
}

export type TokenizerJson = Record<string, unknown>;

/**
 * The tokenizer.json that transformers' BertConverter writes for a BERT vocab.txt, built in memory:
 * BertNormalizer (clean text, pad CJK, lowercase + strip accents per do_lower_case), BertPreTokenizer,
 * WordPiece ('##', [UNK], 100 characters per word), `[CLS] $A [SEP]`, the special tokens as added tokens.
 */
export function buildBertTokenizerJson(vocabText: string, config: TokenizerConfig, vocabFile = 'vocab.txt'): TokenizerJson {
  // One token per line; the line number is the id (as transformers' load_vocab).
  const lines = vocabText.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = {};
  lines.forEach((token, id) => {
    vocab[token] = id;
  });

  const names = {
    unk: specialTokenName(config.unk_token, '[UNK]'),
    sep: specialTokenName(config.sep_token, '[SEP]'),
    pad: specialTokenName(config.pad_token, '[PAD]'),
    cls: specialTokenName(config.cls_token, '[CLS]'),
    mask: specialTokenName(config.mask_token, '[MASK]'),
  };
  for (const [role, token] of Object.entries(names)) {
    if (!(token in vocab)) {
      throw new Error(`${vocabFile} has no ${token} line (the ${role} token): is it a BERT WordPiece vocabulary?`);
    }
  }

  const addedTokens = config.added_tokens_decoder
    ? Object.entries(config.added_tokens_decoder).map(([id, t]) => ({
        id: Number(id),
        content: t.content,
        single_word: t.single_word ?? false,
        lstrip: t.lstrip ?? false,
        rstrip: t.rstrip ?? false,
        normalized: t.normalized ?? false,
        special: t.special ?? true,
      }))
    : Object.values(names).map((content) => ({
        id: vocab[content],
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      }));
  addedTokens.sort((a, b) => a.id - b.id);

  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null, // null: follow lowercase
      lowercase: config.do_lower_case ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(names.cls, 0), sequence('A', 0), special(names.sep, 0)],
      pair: [special(names.cls, 0), sequence('A', 0), special(names.sep, 0), sequence('B', 1), special(names.sep, 1)],
      special_tokens: {
        [names.cls]: { id: names.cls, ids: [vocab[names.cls]], tokens: [names.cls] },
        [names.sep]: { id: names.sep, ids: [vocab[names.sep]], tokens: [names.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: names.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** A special token's text from tokenizer_config.json (a string or an AddedToken {content} object). */
export function specialTokenName(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return fallback;
}
