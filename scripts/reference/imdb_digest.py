#!/usr/bin/env python3
"""Independent reference for test/data.test.ts: digests of the real IMDB assets, computed with
Python's csv and tarfile modules (not our TypeScript readers).

    /usr/bin/python3 scripts/reference/imdb_digest.py ../shared/assets/imdb > test/fixtures/data/imdb-digest.json

For each split and source (Kaggle CSV, aclImdb tarball): row count, reviews per label, the first
rows (sha256 of the UTF-8 text, length, label) and an order-free digest of the multiset of reviews
per label: sha256 of the sorted per-review sha256 hex strings joined by newlines.
"""
import csv, hashlib, json, re, sys, tarfile
from collections import Counter

root = sys.argv[1]

def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()

def multiset_digest(texts):
    return hashlib.sha256('\n'.join(sorted(sha(t) for t in texts)).encode('ascii')).hexdigest()

def summarize(rows):  # rows: list of (text, label name)
    by_label = {}
    for text, label in rows:
        by_label.setdefault(label, []).append(text)
    return {
        'rows': len(rows),
        'counts': dict(sorted(Counter(label for _, label in rows).items())),
        'first': [{'sha256': sha(t), 'chars': len(t), 'utf16Units': len(t.encode('utf-16-le')) // 2, 'label': l}
                  for t, l in rows[:3]],
        'multiset': {label: multiset_digest(texts) for label, texts in sorted(by_label.items())},
    }

out = {'csv': {}, 'tarball': {}}
for split in ('train', 'test'):
    with open(f'{root}/{split}.csv', encoding='utf-8', newline='') as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header == ['review', 'sentiment'], header
        out['csv'][split] = summarize([(r[0], r[1]) for r in reader])

pattern = re.compile(r'aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$')
found = {'train': [], 'test': []}
with tarfile.open(f'{root}/aclImdb.tar.gz', 'r:gz') as tar:
    for member in tar:
        m = pattern.search(member.name)
        if member.isfile() and m:
            text = tar.extractfile(member).read().decode('utf-8')
            found[m[1]].append(((0 if m[2] == 'neg' else 1, int(m[3])), text, 'negative' if m[2] == 'neg' else 'positive'))
for split, items in found.items():
    items.sort(key=lambda item: item[0])  # label (neg, pos), then numeric id
    out['tarball'][split] = summarize([(text, label) for _, text, label in items])

json.dump(out, sys.stdout, indent=1)
print()
