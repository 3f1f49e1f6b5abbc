#!/usr/bin/env bash
# Writes test/fixtures/data/aclImdb-mini/ (a tiny folder in the aclImdb layout) and packs it with
# GNU tar + gzip into aclImdb-mini.tar.gz, so the tarball reader is checked on an archive that
# our own code did not write. Also a tarball with one non-UTF-8 review.
#   bash scripts/reference/make_aclimdb_fixture.sh
set -euo pipefail
cd "$(dirname "$0")/../../test/fixtures/data"
rm -rf aclImdb-mini build-tmp && mkdir -p build-tmp/aclImdb
root=build-tmp/aclImdb
for d in train/pos train/neg test/pos test/neg train/unsup; do mkdir -p "$root/$d"; done
# Ids chosen so that text order (10 < 2) and numeric order (2 < 10) differ.
printf 'Train pos two: loved it, "really".' > "$root/train/pos/2_9.txt"
printf 'Train pos ten.\nSecond line <br /><br />end.' > "$root/train/pos/10_8.txt"
printf 'Train neg zero: café au lait, 日本.' > "$root/train/neg/0_3.txt"
printf 'Train neg eleven.' > "$root/train/neg/11_1.txt"
printf '   ' > "$root/train/neg/12_2.txt"            # blank: counted as an empty review
printf 'Test pos one 🎬.' > "$root/test/pos/1_10.txt"
printf 'Test neg three.' > "$root/test/neg/3_4.txt"
printf 'Unlabelled, must be skipped.' > "$root/train/unsup/0_0.txt"
printf 'http://www.imdb.com/title/tt0000000/usercomments\n' > "$root/train/urls_pos.txt"
printf 'the\nand\n' > "$root/imdb.vocab"
cp -r "$root" aclImdb-mini
tar -C build-tmp --sort=name --owner=0 --group=0 --mtime='2011-06-01' -czf aclImdb-mini.tar.gz aclImdb
# Same archive plus one review in Latin-1 (0xE9 at byte offset 4).
printf 'Caf\xe9 review.' > "$root/test/neg/4_2.txt"
tar -C build-tmp --sort=name --owner=0 --group=0 --mtime='2011-06-01' -czf aclImdb-latin1.tar.gz aclImdb
rm -rf build-tmp
