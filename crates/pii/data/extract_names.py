#!/usr/bin/env python3
"""Dev-time extraction of the person-name lists from Debian's mecab-ipadic.

Run once (apt-get install mecab-ipadic) and commit the output; the scanner never
runs a morphological analyser. Keeps 人名/姓 entries that contain a kanji and
人名/名 entries that contain a kanji or are ≥ 2 kana; drops katakana-only entries
(foreign names collide with loanwords such as ミラー).
"""
import csv, io, re
SRC = '/usr/share/mecab/dic/ipadic/Noun.name.csv'  # EUC-JP
rows = list(csv.reader(io.open(SRC, encoding='euc_jp')))
jp = re.compile(r'^[\u3005\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff\uf900-\ufaff]+$')
kanji = re.compile(r'[\u3005\u4e00-\u9fff]')
sur, giv = set(), set()
for r in rows:
    w, kind = r[0], r[7]
    if not jp.match(w):
        continue
    if kind == '姓' and kanji.search(w):
        sur.add(w)
    elif kind == '名' and (kanji.search(w) or len(w) >= 2):
        giv.add(w)
open('surnames.txt', 'w').write('\n'.join(sorted(sur)) + '\n')
open('given_names.txt', 'w').write('\n'.join(sorted(giv)) + '\n')
