#!/usr/bin/env python3
"""Writes the small odd/bad CSV files under test/fixtures/data/ and, for the good ones, the
reviews and labels that a correct reader must return (Python's csv module writes them; the
expected values are the Python strings, so the check does not depend on our parser).

    /usr/bin/python3 scripts/reference/make_csv_fixtures.py
"""
import csv, io, json, os

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'data')

def write_bytes(name, data):
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)

def csv_bytes(rows, line_terminator='\n'):
    buf = io.StringIO(newline='')
    csv.writer(buf, lineterminator=line_terminator).writerows(rows)
    return buf.getvalue().encode('utf-8')

# Reviews that break naive CSV handling; all must come back byte-identical.
tricky = [
    ('Great film, truly great, 10/10.', 'positive'),
    ('He said "wow" and then ""nothing"".', 'negative'),
    ('Line one.\nLine two.\n\nLine four after a blank line.', 'positive'),
    ('Windows line\r\nbreak inside a review.', 'negative'),
    ('  leading and trailing spaces  ', 'positive'),
    ('Unicode: café, naïve, 日本語, emoji 🎬🍿, RTL שלום.', 'positive'),
    ('<br /><br />HTML-ish <b>tags</b> & ampersands stay as text.', 'negative'),
    ('"', 'negative'),
    (',', 'positive'),
    ('Tab\there and a trailing backslash \\', 'negative'),
]
rows = [('review', 'sentiment')] + tricky
write_bytes('tricky.csv', csv_bytes(rows))
# The same rows with a UTF-8 BOM and CRLF record ends (Excel's way of saving CSV).
write_bytes('tricky-bom-crlf.csv', b'\xef\xbb\xbf' + csv_bytes(rows, '\r\n'))
with open(os.path.join(OUT, 'tricky.expected.json'), 'w', encoding='utf-8') as f:
    json.dump({'texts': [t for t, _ in tricky], 'labels': [l for _, l in tricky]}, f, ensure_ascii=False, indent=1)
    f.write('\n')

# Rows a reader must skip and count: data rows 2, 3 (empty / blank review) and 5 (no label).
skips = [('review', 'sentiment'), ('kept one', 'positive'), ('', 'negative'), ('   ', 'positive'),
         ('kept two', 'negative'), ('no label here', ''), ('kept three', ' positive ')]
write_bytes('skips.csv', csv_bytes(skips))

# Other column names and labels, read with textColumn / labelColumn / labelMap.
write_bytes('other-columns.csv', csv_bytes([('id', 'body', 'stars'), ('1', 'Awful.', 'bad'), ('2', 'Fine.', 'ok'), ('3', 'Superb!', 'good')]))
write_bytes('unknown-label.csv', csv_bytes([('review', 'sentiment'), ('a', 'positive'), ('b', 'neutral'), ('c', 'negative'), ('d', 'Positive')]))
# Hand-written broken files (Python's csv would quote them correctly, so these are literal bytes).
write_bytes('bad-quotes.csv', b'review,sentiment\n"fine",positive\n"also fine",negative\n"never closed,positive\nlast,negative\n')
write_bytes('too-many-fields.csv', b'review,sentiment\n"ok",positive\nan unquoted, comma,negative\n')
write_bytes('latin1.csv', b'review,sentiment\n"good",positive\n"caf\xe9 was bad",negative\n')  # 0xE9 at byte offset 37, line 3
write_bytes('empty.csv', b'')
write_bytes('header-only.csv', b'review,sentiment\n')
