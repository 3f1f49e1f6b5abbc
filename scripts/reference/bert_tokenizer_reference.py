#!/usr/bin/python3
"""Independent reference for lib/tokenizer.ts: BERT uncased WordPiece tokenization in plain Python.

Re-implements the logic of Google's original BERT `tokenization.py` (BasicTokenizer + WordpieceTokenizer)
from scratch, reading the real `vocab.txt`, plus the one thing Hugging Face's BertTokenizerFast adds on
top of it: the special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) are matched verbatim in the raw text
before any normalization, and the text between them is tokenized on its own. Two settings follow
Hugging Face rather than Google's defaults: max_input_chars_per_word is 100 (Google: 200) and the
output is wrapped as [CLS] ... [SEP].

It uses nothing from the JS side (no tokenizer.json, no @huggingface/tokenizers), so agreement between
the two is a real check. Run once, with Debian's Python (only the standard library is needed):

    /usr/bin/python3 scripts/reference/bert_tokenizer_reference.py \
        --assets ../shared/assets --out test/fixtures/tokenizer/bert_uncased_reference.json

The fixture holds, for ~45 hand-written edge cases, the text and the expected ids; for IMDB reviews
(every 125th row of imdb/train.csv, read with the csv module) only the row number, a short sha256 of
the review text (so the test can tell it read the same text) and the expected ids: the review texts
themselves stay in the asset folder.
"""
import argparse
import csv
import hashlib
import json
import os
import unicodedata

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_INPUT_CHARS_PER_WORD = 100


def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for index, line in enumerate(f):
            token = line.rstrip("\n")
            vocab[token] = index
    return vocab


# ---- BasicTokenizer (Google BERT tokenization.py) -------------------------------------------

def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    # All non-letter/number ASCII counts as punctuation ("$", "^", "`" are not Unicode P*).
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese_char(cp):
    return (
        (0x4E00 <= cp <= 0x9FFF)
        or (0x3400 <= cp <= 0x4DBF)
        or (0x20000 <= cp <= 0x2A6DF)
        or (0x2A700 <= cp <= 0x2B73F)
        or (0x2B740 <= cp <= 0x2B81F)
        or (0x2B820 <= cp <= 0x2CEAF)
        or (0xF900 <= cp <= 0xFAFF)
        or (0x2F800 <= cp <= 0x2FA1F)
    )


def clean_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def pad_chinese_chars(text):
    out = []
    for ch in text:
        if is_chinese_char(ord(ch)):
            out.extend([" ", ch, " "])
        else:
            out.append(ch)
    return "".join(out)


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def split_on_punctuation(word):
    pieces = []
    current = []
    for ch in word:
        if is_punctuation(ch):
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append(ch)
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    return pieces


def basic_tokenize(text, do_lower_case=True):
    text = pad_chinese_chars(clean_text(text))
    words = []
    for word in text.split():
        if do_lower_case:
            word = strip_accents(word.lower())
        words.extend(split_on_punctuation(word))
    return " ".join(words).split()


# ---- WordpieceTokenizer: greedy longest-match-first ------------------------------------------

def wordpiece(word, vocab):
    chars = list(word)
    if len(chars) > MAX_INPUT_CHARS_PER_WORD:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(chars):
        end = len(chars)
        found = None
        while start < end:
            candidate = "".join(chars[start:end])
            if start > 0:
                candidate = "##" + candidate
            if candidate in vocab:
                found = candidate
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


# ---- Special tokens first, then the rest -----------------------------------------------------

def split_on_special_tokens(text):
    """[(segment, is_special)], matching special tokens verbatim, leftmost first."""
    segments = []
    i = 0
    plain_start = 0
    while i < len(text):
        match = next((s for s in SPECIAL_TOKENS if text.startswith(s, i)), None)
        if match is None:
            i += 1
            continue
        if plain_start < i:
            segments.append((text[plain_start:i], False))
        segments.append((match, True))
        i += len(match)
        plain_start = i
    if plain_start < len(text):
        segments.append((text[plain_start:], False))
    return segments


def encode(text, vocab):
    tokens = []
    for segment, is_special in split_on_special_tokens(text):
        if is_special:
            tokens.append(segment)
            continue
        for word in basic_tokenize(segment):
            tokens.extend(wordpiece(word, vocab))
    return [vocab["[CLS]"]] + [vocab[t] for t in tokens] + [vocab["[SEP]"]]


# ---- The cases -------------------------------------------------------------------------------

CASES = [
    ("simple", "Hello, world!"),
    ("empty", ""),
    ("only_spaces", "   "),
    ("only_whitespace_mix", " \t\n\r\n  "),
    ("accents_latin", "Héllo wörld, naïve café résumé"),
    ("accents_nordic_german", "Ångström Æsir Øresund straße"),
    ("combining_marks", "e\u0301cole cafe\u0301 nin\u0303o"),
    ("turkish_dotted_i", "İstanbul ıi"),
    ("chinese", "生活的真谛是爱"),
    ("chinese_fullwidth_punct", "我喜欢这部电影。非常好！"),
    ("chinese_latin_mixed", "ah博推zz and 电影time"),
    ("cjk_extension_b", "a𠀀b 𠀁 text"),
    ("japanese_kana", "日本語のテキスト"),
    ("korean_hangul", "한국어 텍스트"),
    ("greek_cyrillic", "Ελληνικά Русский текст"),
    ("arabic_hebrew", "مرحبا بالعالم שלום"),
    ("emoji", "I loved it 😍😍😍 🎬🍿 👍🏽"),
    ("emoji_zwj_variation", "👩\u200d👩\u200d👧\u200d👦 ❤️ ✨"),
    ("br_tags", "<br /><br />This movie was great.<br />Really."),
    ("html_entities", "&amp; &lt;3 &quot;quoted&quot;"),
    ("long_word_101", "a" * 101),
    ("long_word_100", "ab" * 50),
    ("long_word_in_sentence", "before " + "xy" * 51 + " after"),
    ("long_known_words", "Supercalifragilisticexpialidocious antidisestablishmentarianism"),
    ("special_tokens", "[MASK] is a [SEP] token and [CLS] and [PAD] and [UNK]"),
    ("special_tokens_glued", "foo[MASK]bar[SEP][SEP]x"),
    ("special_lowercase_not_special", "[mask] and [Sep] are not special"),
    ("special_spaced_not_special", "The [ MASK ] token"),
    ("only_special", "[SEP]"),
    ("control_chars", "a\x00b\x07c\x1bd\u200be\ufeff f\x7f g"),
    ("unassigned_codepoint", "a\u0378b c\U000E0080d"),
    ("replacement_char", "bad \ufffd byte\ufffd"),
    ("multiple_spaces", "a  b\t\tc\n\n d \r\n e     f"),
    ("unicode_spaces", "non\u00a0breaking\u3000ideographic\u2009thin"),
    ("line_separators", "A\u2028B\u2029C"),
    ("ascii_punctuation", "Wow!!! Really??? ...and -- then; (ok) [brackets] {braces} 'q' \"dq\" `bt` ~t^ @#$%&*_+=|\\/<>"),
    ("unicode_punctuation", "“Smart quotes” — em – en … ‘single’ «guillemets» ¿Qué? ¡Sí!"),
    ("numbers", "In 1999, 3.14159 and 1,000,000 people paid $12.50 (10%)."),
    ("contractions", "I can't believe it's not butter, y'all won't."),
    ("url_email", "Visit http://www.imdb.com/title/tt0111161/ or mail me@example.com"),
    ("mixed_case", "ThIs Is MiXeD CaSe TEXT"),
    ("ligature_fullwidth", "ﬁne ＡＢＣ１２３"),
    ("math_symbols", "x² + y² = z² ≥ ∑∞ ½"),
    ("code", "def f(x):\n\treturn x**2  # square"),
    ("repeated_punct", "!!!!!!!!!!"),
    ("review_like", "Mr. Smith's dog—named 'Rex'—barked. 10/10, would watch again!!"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", default=os.environ.get("QLORA_ASSETS", "../shared/assets"))
    parser.add_argument("--out", default="test/fixtures/tokenizer/bert_uncased_reference.json")
    parser.add_argument("--review-step", type=int, default=125, help="take every Nth review of train.csv")
    parser.add_argument("--max-reviews", type=int, default=200)
    args = parser.parse_args()

    vocab = load_vocab(os.path.join(args.assets, "distilbert-base-uncased", "vocab.txt"))

    cases = [{"name": name, "text": text, "ids": encode(text, vocab)} for name, text in CASES]

    reviews = []
    with open(os.path.join(args.assets, "imdb", "train.csv"), encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)  # header: review,sentiment
        for row_index, row in enumerate(reader):
            if row_index % args.review_step != 0:
                continue
            text = row[0]
            reviews.append({
                "row": row_index,
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
                "ids": encode(text, vocab),
            })
            if len(reviews) >= args.max_reviews:
                break

    fixture = {
        "description": "Expected distilbert-base-uncased ids from scripts/reference/bert_tokenizer_reference.py "
        "(plain-Python BERT BasicTokenizer + WordpieceTokenizer). reviews[].row is the 0-based data row of "
        "imdb/train.csv (header excluded); sha256 is the first 16 hex digits of the UTF-8 review text.",
        "cases": cases,
        "reviews": reviews,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        # One case per line keeps the file small and diffs readable.
        f.write("{\n")
        f.write(' "description": %s,\n' % json.dumps(fixture["description"]))
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases))
        f.write("\n ],\n")
        f.write(' "reviews": [\n')
        f.write(",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in reviews))
        f.write("\n ]\n}\n")
    os.replace(tmp, args.out)
    print("wrote %s: %d cases, %d reviews, %d bytes" % (args.out, len(cases), len(reviews), os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
