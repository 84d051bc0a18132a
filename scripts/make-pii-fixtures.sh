#!/bin/sh
# Regenerates the PII corpus fixtures made by real producers (crates/pii/tests/data/pii-corpus):
# the generator (fixed seed) writes a docx roster of 397 fictional residents of 奈良県, a docx
# application form, an xlsx roster of 50 and the roster as an HTML page; LibreOffice converts
# the docx files to PDF and the xlsx to xls, Chromium prints the HTML to PDF (cells padded,
# and with the browser's default 1 px padding). The committed
# results are what tests/corpus_f1.rs and tests/pdf.rs read (their labels come from the same
# seed). CI does not run this (it installs neither LibreOffice nor Chromium).
#
# Needs (Debian 12): libreoffice-writer-nogui libreoffice-calc-nogui chromium fonts-ipaexfont.
set -eu
cd "$(dirname "$0")/.."
out=crates/pii/tests/data/pii-corpus
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cargo run -q --release -p mamori-pii --example gen_corpus -- --fixture-sources "$src"
# A private LibreOffice profile, so a running office or another user's settings change nothing.
lo="soffice -env:UserInstallation=file://$src/profile --headless"
$lo --convert-to pdf --outdir "$src/lo" "$src/nara-roster.docx" "$src/nara-form.docx" >/dev/null
$lo --convert-to xls --outdir "$src/lo" "$src/nara-roster50.xlsx" >/dev/null
# --disable-pdf-tagging: the structure tree of 397 rows is ~500 KB of uncompressed objects;
# the page content and fonts are the same either way.
chromium --headless --no-sandbox --disable-gpu --disable-pdf-tagging --no-pdf-header-footer \
  --print-to-pdf="$src/chromium.pdf" "file://$src/nara-roster.html" 2>/dev/null
chromium --headless --no-sandbox --disable-gpu --disable-pdf-tagging --no-pdf-header-footer \
  --print-to-pdf="$src/chromium-tight.pdf" "file://$src/nara-roster-tight.html" 2>/dev/null
mkdir -p "$out"
cp "$src/lo/nara-roster.pdf" "$out/nara-roster-libreoffice.pdf"
cp "$src/lo/nara-form.pdf" "$out/nara-form-libreoffice.pdf"
cp "$src/lo/nara-roster50.xls" "$out/nara-roster50-libreoffice.xls"
cp "$src/chromium.pdf" "$out/nara-roster-chromium.pdf"
cp "$src/chromium-tight.pdf" "$out/nara-roster-tight-chromium.pdf"
ls -l "$out"
soffice --version 2>/dev/null | head -1
chromium --version 2>/dev/null | head -1
