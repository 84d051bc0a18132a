//! Pre-check of .xls (BIFF) workbooks before calamine reads them.
//!
//! calamine 0.38's `Xls::new` parses every sheet up front and stores each one as a dense
//! `Range` sized from the lowest and highest row and column of its cell records
//! (`Range::from_sparse`): two cells at A1 and at row 65536, column 12000 cost 6 GB before a
//! single sheet is asked for. It has no size hook, so this module walks the `Workbook` stream
//! the way calamine's xls.rs does (its `RecordIter` with CONTINUE records, the globals loop,
//! the per-sheet loop with nested BOF/EOF substreams, the same cell records and the same
//! row/column fields) and refuses the workbook when what calamine would allocate is over
//! [`Limits::max_cells`]: per sheet and summed, for the value ranges and the formula ranges.
//! It also bounds the shared strings that LABELSST cells copy (calamine clones the string for
//! every cell that points at it; 14 bytes of record may copy 190 KB).
//!
//! calamine then reads a compound file rebuilt here holding only that stream, so what it parses
//! is exactly what was checked (its own CFB reader follows sector chains without loop checks),
//! with two neutral edits that change no cell value:
//! - DIMENSIONS records are zeroed: calamine only uses them to `reserve(rows × cols)` cells,
//!   and a claimed 4 × 10⁹ rows would abort on allocation failure;
//! - every FORMULA's token array becomes one missing-argument token (printed as ""): mamori
//!   never reads formula text, and calamine's formula printer inserts up to 255 spaces per
//!   4-byte token one `insert` at a time (quadratic time, 60× the record's size in memory).
//!   The cached value is kept.

use super::Limits;
use std::io::{Cursor, Read, Write};

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const CONTINUE: u16 = 0x003C;
const BOUNDSHEET: u16 = 0x0085;
const CODEPAGE: u16 = 0x0042;
const SST: u16 = 0x00FC;
const DIMENSIONS: u16 = 0x0200;
const NUMBER: u16 = 0x0203;
const LABEL: u16 = 0x0204;
const RSTRING: u16 = 0x00D6;
const BOOLERR: u16 = 0x0205;
const STRING: u16 = 0x0207;
const RK: u16 = 0x027E;
const LABELSST: u16 = 0x00FD;
const MULRK: u16 = 0x00BD;
const FORMULA: u16 = 0x0006;

/// CONTINUE records after one record. calamine takes each with `Vec::remove(0)`, quadratic
/// in their number: an SST followed by 200,000 empty ones (an 800 KB file) took 6.9 s, by
/// the square 2 million take about 11 minutes (measured 2026-12-03, release build). Writers
/// fill each to 8,224 bytes, so 32,768 of them are 270 MB, more than `max_file_bytes`.
const MAX_CONTINUES: usize = 32_768;

/// BOUNDSHEET records. calamine keeps a name, a sheet entry and two ranges for each (some
/// 300 bytes from an 8-byte record); no workbook a person uses has this many sheets.
const MAX_SHEETS: usize = 65_536;

/// What the pre-check decided.
#[derive(Debug)]
pub(crate) enum Precheck {
    /// Not a compound file with a workbook stream that the `cfb` crate reads: calamine gets
    /// the original bytes and reports what it finds, as before.
    Unopened,
    /// Over a limit; the reason (Japanese / English) names the sheet and the numbers.
    Refused(String),
    /// Within the limits: a compound file holding only the checked workbook stream.
    Clean(Vec<u8>),
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One record and the CONTINUE records calamine appends to it.
struct Rec<'a> {
    typ: u16,
    /// Offset of `data` in the stream.
    at: usize,
    data: &'a [u8],
    cont: Vec<&'a [u8]>,
}

/// calamine's `RecordIter`: `None` at the end, one `Err` where a record runs past the stream
/// (calamine stops the whole workbook there).
struct Records<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Rec<'a>, ()>;
    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.s[self.pos..];
        if rest.len() < 4 {
            self.pos = self.s.len();
            return if rest.is_empty() { None } else { Some(Err(())) };
        }
        let typ = u16::from_le_bytes([rest[0], rest[1]]);
        let len = u16::from_le_bytes([rest[2], rest[3]]) as usize;
        if rest.len() < len + 4 {
            self.pos = self.s.len();
            return Some(Err(()));
        }
        let at = self.pos + 4;
        let data = &rest[4..4 + len];
        self.pos += 4 + len;
        let mut cont = Vec::new();
        // calamine: `next.len() > 4` and then `stream.len() > 4` (a bare 4-byte CONTINUE at
        // the very end stays a record of its own).
        let mut next = &self.s[self.pos..];
        while next.len() > 4 && u16::from_le_bytes([next[0], next[1]]) == CONTINUE {
            let l = u16::from_le_bytes([next[2], next[3]]) as usize;
            if next.len() < l + 4 {
                self.pos = self.s.len();
                return Some(Err(()));
            }
            cont.push(&next[4..4 + l]);
            self.pos += 4 + l;
            next = &self.s[self.pos..];
        }
        Some(Ok(Rec { typ, at, data, cont }))
    }
}

/// A record's data with its CONTINUE pieces, consumed the way calamine's `Record` is.
struct Cursor2<'a> {
    data: &'a [u8],
    cont: std::slice::Iter<'a, &'a [u8]>,
}

impl Cursor2<'_> {
    fn continue_record(&mut self) -> bool {
        match self.cont.next() {
            Some(d) => {
                self.data = d;
                true
            }
            None => false,
        }
    }

    fn skip(&mut self, mut len: usize) -> Result<(), ()> {
        while len > 0 {
            if self.data.is_empty() && !self.continue_record() {
                return Err(());
            }
            let l = len.min(self.data.len());
            self.data = &self.data[l..];
            len -= l;
        }
        Ok(())
    }

    /// `read_rich_extended_string`: the string's length in characters.
    fn rich_string(&mut self) -> Result<u32, ()> {
        if self.data.is_empty() {
            return Ok(0);
        }
        if self.data.len() < 3 {
            return Err(());
        }
        let cch = u16::from_le_bytes([self.data[0], self.data[1]]) as usize;
        let flags = self.data[2];
        self.data = &self.data[3..];
        let mut high = flags & 1 != 0;
        let mut runs = 0usize;
        let mut ext = 0usize;
        if flags & 8 != 0 {
            runs = u16_at(self.data, 0).ok_or(())? as usize;
            self.data = &self.data[2..];
        }
        if flags & 4 != 0 {
            // calamine: `read_i32(..) as usize`, a negative size is huge.
            ext = u32_at(self.data, 0).ok_or(())? as i32 as usize;
            self.data = &self.data[4..];
        }
        let mut left = cch;
        while left > 0 {
            let (l, at) = if high {
                let l = (self.data.len() / 2).min(left);
                (l, 2 * l)
            } else {
                let l = self.data.len().min(left);
                (l, l)
            };
            self.data = &self.data[at..];
            left -= l;
            if left > 0 {
                if !self.continue_record() || self.data.is_empty() {
                    return Err(());
                }
                high = self.data[0] & 1 != 0;
                self.data = &self.data[1..];
            }
        }
        self.skip(runs * 4)?;
        self.skip(ext)?;
        Ok(cch as u32)
    }
}

/// `parse_sst`: the character count of every shared string calamine will hold.
fn sst_lengths(r: &Rec) -> Vec<u32> {
    let mut out = Vec::new();
    if r.data.len() < 8 {
        return out;
    }
    let mut c = Cursor2 { data: &r.data[8..], cont: r.cont.iter() };
    while !c.data.is_empty() || c.continue_record() {
        match c.rich_string() {
            Ok(n) => out.push(n),
            // calamine fails the workbook here; what was read so far is an upper bound.
            Err(()) => break,
        }
    }
    out
}

/// Lowest and highest row and column of the cells pushed, as `Range::from_sparse` sees them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Extent {
    /// Cells pushed (one may land on another's position).
    pub n: u64,
    r0: u32,
    r1: u32,
    c0: u32,
    c1: u32,
}

impl Extent {
    fn add(&mut self, r: u32, c: u32) {
        if self.n == 0 {
            (self.r0, self.r1, self.c0, self.c1) = (r, r, c, c);
        } else {
            self.r0 = self.r0.min(r);
            self.r1 = self.r1.max(r);
            self.c0 = self.c0.min(c);
            self.c1 = self.c1.max(c);
        }
        self.n += 1;
    }

    /// Rows of the dense range (0 when empty).
    pub fn rows(&self) -> u64 {
        if self.n == 0 { 0 } else { (self.r1 - self.r0) as u64 + 1 }
    }

    /// Columns of the dense range (0 when empty).
    pub fn cols(&self) -> u64 {
        if self.n == 0 { 0 } else { (self.c1 - self.c0) as u64 + 1 }
    }

    /// Cells of the dense range calamine allocates.
    pub fn cells(&self) -> u64 {
        self.rows() * self.cols()
    }
}

/// What calamine will build for one sheet.
#[derive(Debug, Default)]
pub(crate) struct SheetClaim {
    pub name: String,
    /// Value cells (`Range<Data>`, 32 bytes a cell).
    pub values: Extent,
    /// Formula cells (`Range<String>`, 24 bytes a cell).
    pub formulas: Extent,
    /// Bytes of shared strings the sheet's LABELSST cells copy (3 per character: the most a
    /// UTF-16 unit or a legacy byte decodes to).
    pub sst_bytes: u64,
}

/// The walk of a workbook stream: the sheets as calamine will build them, and the offsets to
/// neutralise (see the module comment).
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub sheets: Vec<SheetClaim>,
    /// Most CONTINUE records calamine attaches to one record.
    pub continues: usize,
    /// Records in the stream, and records the sheet loops read (sheets whose BOUNDSHEET
    /// offsets overlap read the same records again; calamine does too).
    pub records: u64,
    pub walked: u64,
    /// The sheet loops stopped at their bound (see [`walk`]).
    pub overwalked: bool,
    /// More than [`MAX_SHEETS`] BOUNDSHEET records (the walk stopped reading them).
    pub too_many_sheets: bool,
    /// (offset in the stream, bytes to write there).
    patches: Vec<(usize, &'static [u8])>,
}

fn decode_name(b: &[u8], biff8: bool, codepage: u16) -> String {
    // parse_short_string: cch (1 byte), in BIFF8 a flags byte, then the characters.
    let Some(&cch) = b.first() else { return String::new() };
    let cch = cch as usize;
    let mut s = if biff8 {
        let high = b.get(1).is_some_and(|f| f & 1 != 0);
        let chars = b.get(2..).unwrap_or(&[]);
        if high {
            let n = (chars.len() / 2).min(cch);
            let units: Vec<u16> = (0..n).map(|i| u16::from_le_bytes([chars[2 * i], chars[2 * i + 1]])).collect();
            String::from_utf16_lossy(&units)
        } else {
            chars.iter().take(cch).map(|&c| c as char).collect()
        }
    } else {
        let chars = &b[1..][..cch.min(b.len() - 1)];
        let enc = match codepage {
            932 => encoding_rs::SHIFT_JIS,
            65001 => encoding_rs::UTF_8,
            _ => encoding_rs::WINDOWS_1252,
        };
        enc.decode(chars).0.into_owned()
    };
    s.retain(|c| c != '\0');
    s
}

/// Walk a workbook stream as calamine 0.38's `parse_workbook` does. Where calamine would stop
/// with an error the walk counts what came before (an upper bound of what calamine keeps).
pub(crate) fn walk(stream: &[u8]) -> Walk {
    let mut w = Walk::default();
    let mut sheets: Vec<(usize, String)> = Vec::new();
    let mut sst: Vec<u32> = Vec::new();
    let mut biff8 = true;
    let mut codepage = 1200u16;
    for r in (Records { s: stream, pos: 0 }) {
        let Ok(r) = r else { break };
        w.continues = w.continues.max(r.cont.len());
        match r.typ {
            CODEPAGE => codepage = u16_at(r.data, 0).unwrap_or(codepage),
            BOF => {
                // parse_bof: version 0x0200/0x0002/0x0007/0x0300/0x0400/0x0500 are before
                // BIFF8; 0 means BIFF5 when dt is 0x1000; anything else is BIFF8.
                let v = u16_at(r.data, 0).unwrap_or(0x0600);
                let dt = u16_at(r.data, 2).unwrap_or(0);
                biff8 = !(matches!(v, 0x0200 | 0x0002 | 0x0007 | 0x0300 | 0x0400 | 0x0500) || v == 0 && dt == 0x1000);
            }
            BOUNDSHEET => {
                if sheets.len() == MAX_SHEETS {
                    w.too_many_sheets = true;
                    break;
                }
                let Some(pos) = u32_at(r.data, 0) else { break };
                let name = decode_name(r.data.get(6..).unwrap_or(&[]), biff8, codepage);
                sheets.push((pos as usize, name));
            }
            SST => sst = sst_lengths(&r),
            EOF => break,
            _ => {}
        }
    }
    // Sheets are disjoint substreams: their loops together read each record about once. A
    // file whose thousands of BOUNDSHEETs point at one offset makes calamine (and this walk)
    // read the stream once per sheet, so the walk stops at twice the stream's records.
    w.records = (Records { s: stream, pos: 0 }).count() as u64;
    let bound = 2 * w.records + 10_000;
    for (pos, name) in sheets {
        let mut claim = SheetClaim { name, ..Default::default() };
        // calamine slices `&stream[pos..]` (a panic past the end, caught as an error).
        if pos <= stream.len() && !w.overwalked {
            walk_sheet(stream, pos, &sst, &mut claim, &mut w, bound);
        }
        w.sheets.push(claim);
    }
    w
}

fn walk_sheet(stream: &[u8], pos: usize, sst: &[u32], c: &mut SheetClaim, w: &mut Walk, bound: u64) {
    let mut fmla_pos = (0u32, 0u32);
    let mut seen_bof = false;
    let mut depth = 0usize;
    let patches = &mut w.patches;
    for r in (Records { s: stream, pos }) {
        let Ok(r) = r else { break };
        w.walked += 1;
        if w.walked > bound {
            w.overwalked = true;
            break;
        }
        w.continues = w.continues.max(r.cont.len());
        if depth > 0 {
            match r.typ {
                BOF => depth += 1,
                EOF => depth -= 1,
                _ => {}
            }
            continue;
        }
        let d = r.data;
        let rc = || (u16_at(d, 0).unwrap_or(0) as u32, u16_at(d, 2).unwrap_or(0) as u32);
        match r.typ {
            BOF => {
                if seen_bof {
                    depth += 1;
                } else {
                    seen_bof = true;
                }
            }
            DIMENSIONS if matches!(d.len(), 10 | 14 | 16) => patches.push((r.at, &[0; 16][..d.len()])),
            NUMBER if d.len() >= 14 => c.values.add(rc().0, rc().1),
            LABEL | RSTRING if d.len() >= 6 => c.values.add(rc().0, rc().1),
            BOOLERR if d.len() >= 8 => c.values.add(rc().0, rc().1),
            STRING => c.values.add(fmla_pos.0, fmla_pos.1),
            RK if d.len() >= 10 => c.values.add(rc().0, rc().1),
            LABELSST if d.len() >= 10 => {
                let i = u32_at(d, 6).unwrap_or(u32::MAX) as usize;
                if let Some(&n) = sst.get(i) {
                    c.values.add(rc().0, rc().1);
                    c.sst_bytes += 3 * n as u64;
                }
            }
            MULRK if d.len() >= 6 => {
                let (row, first) = rc();
                let last = u16_at(d, d.len() - 2).unwrap_or(0);
                // calamine checks the length with u16 arithmetic (wrapping in release builds),
                // then pushes one cell per 6-byte chunk from `first` on, as u32 columns.
                let span = last.wrapping_sub(first as u16).wrapping_add(1) as usize;
                if d.len() == 6 + 6 * span {
                    let n = (d.len() - 6) / 6;
                    if n > 0 {
                        c.values.add(row, first);
                        c.values.add(row, first + n as u32 - 1);
                        c.values.n = c.values.n + n as u64 - 2;
                    }
                }
            }
            FORMULA if d.len() >= 20 => {
                fmla_pos = rc();
                // The cached value (a string result comes in the next STRING record).
                c.values.add(fmla_pos.0, fmla_pos.1);
                c.formulas.add(fmla_pos.0, fmla_pos.1);
                // cce = 1, ptgMissArg: calamine prints "" (an empty array is an error message).
                if d.len() >= 23 {
                    patches.push((r.at + 20, &[1, 0, 0x16]));
                } else if d.len() == 22 {
                    patches.push((r.at + 20, &[0, 0]));
                }
            }
            EOF => break,
            _ => {}
        }
    }
}

/// Check an OLE file before calamine reads it (see the module comment).
pub(crate) fn precheck(bytes: &[u8], limits: &Limits) -> Precheck {
    let opened = super::guarded(|| {
        let cf = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| e.to_string())?;
        // calamine: the first directory entry named Workbook, else Book, any case.
        let find = |want: &str| {
            cf.walk()
                .find(|e| e.is_stream() && e.name().eq_ignore_ascii_case(want))
                .map(|e| (e.name().to_string(), e.path().to_path_buf(), e.len()))
        };
        let Some((name, path, len)) = find("Workbook").or_else(|| find("Book")) else {
            return Ok(None);
        };
        // A stream's sectors are distinct sectors of the file, so it is never longer than
        // the file; read no more than that whatever the directory claims.
        let cap = (bytes.len() as u64).min(limits.max_file_bytes);
        if len > cap {
            return Ok(Some(Err((name, len, cap))));
        }
        let mut cf = cf;
        let mut stream = Vec::with_capacity(len as usize);
        cf.open_stream(&path).map_err(|e| e.to_string())?.take(cap).read_to_end(&mut stream).map_err(|e| e.to_string())?;
        Ok(Some(Ok((name, stream))))
    });
    let (name, mut stream) = match opened {
        Ok(Some(Ok(s))) => s,
        Ok(Some(Err((name, len, cap)))) => {
            return Precheck::Refused(format!(
                "xlsの{name}ストリームが{len}バイトと宣言(上限{cap}バイト)のため読みません / \
                 xls {name} stream claims {len} bytes, over the {cap}-byte bound (file size): not read"
            ));
        }
        Ok(None) | Err(_) => match calamine_view(bytes, (bytes.len() as u64).min(limits.max_file_bytes)) {
            CalamineView::Stream(name, stream) => (name, stream),
            CalamineView::Loops(reason) => return Precheck::Refused(reason),
            CalamineView::Fails | CalamineView::NoWorkbook => return Precheck::Unopened,
        },
    };
    let w = walk(&stream);
    if let Some(reason) = refusal(&w, limits) {
        return Precheck::Refused(reason);
    }
    for &(at, b) in &w.patches {
        stream[at..at + b.len()].copy_from_slice(b);
    }
    match rebuild(&name, &stream) {
        Ok(b) => Precheck::Clean(b),
        Err(_) => Precheck::Unopened,
    }
}

/// calamine's own view of a compound file.
#[derive(Debug, PartialEq)]
enum CalamineView {
    /// calamine's reader stops with an error (or a caught panic) before any stream is parsed.
    Fails,
    /// No directory entry named Workbook or Book: calamine reports that.
    NoWorkbook,
    /// calamine would follow a chain round a loop, or read FAT sectors over and over.
    Loops(String),
    /// The stream calamine would parse, and its entry's name.
    Stream(String, Vec<u8>),
}

/// What calamine 0.38's own compound-file reader (cfb.rs `Cfb::new`, `get_stream`) reads
/// from `b`: used when the `cfb` crate does not give a workbook stream (it is stricter: a
/// directory entry whose name length field is wrong, found by `pii_zip`, is refused there
/// but read by calamine), so that no stream reaches calamine's parser unchecked. It follows
/// the same header fields, DIFAT, FAT and chains; where calamine copies sectors without a
/// bound it counts them: the directory chain is read with no length limit (a loop grows the
/// buffer until allocation fails and the process aborts: a 10 KB file did), other chains up
/// to the length an entry claims (4 GB in version 3), and each FAT sector the DIFAT lists is
/// read however often it is listed. A chain through more sectors than the file has is a loop.
fn calamine_view(b: &[u8], cap: u64) -> CalamineView {
    use CalamineView::*;
    const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
    const RESERVED: u32 = 0xFFFF_FFFA;
    const DIFSECT: u32 = 0xFFFF_FFFC;
    if b.len() < 512 || !b.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Fails;
    }
    let size: usize = match u16_at(b, 30) {
        Some(9) => 512,
        Some(12) => 4096,
        _ => return Fails,
    };
    if u16_at(b, 32) != Some(6) || b.len() < size {
        return Fails;
    }
    let u = |i: usize| u32_at(b, i).unwrap_or(0);
    let (version, dir_start, mini_fat_start, mini_fat_len, difat_start) = (u16_at(b, 26).unwrap_or(0), u(48), u(60), u(64) as usize, u(68));
    let maxid = b.len() / size;
    // Sector `id` follows the header, which takes one sector; a sector cut by the end of the
    // file is short, one past it is empty.
    let sector = |id: u32| -> Option<&[u8]> {
        if id as usize > maxid {
            return None; // calamine: SectorBeyondEof
        }
        let at = (id as usize + 1) * size;
        Some(b.get(at..(at + size).min(b.len())).unwrap_or(&[]))
    };
    let words = |s: &[u8]| (0..s.len() / 4).map(|i| u32_at(s, 4 * i).unwrap_or(0)).collect::<Vec<u32>>();
    let looped = |what: &str, n: usize| {
        Loops(format!(
            "xlsの複合ファイル構造({what})が{n}セクタを指し、ファイルの{}セクタを超えるため(循環)読みません / \
             compound file's {what} runs through {n} sectors, more than the file's {}: a loop, not read",
            maxid + 1,
            maxid + 1
        ))
    };
    let mut difat: Vec<u32> = (0..109).map(|i| u(76 + 4 * i)).collect();
    let mut id = difat_start;
    let mut n = 0;
    while id < RESERVED {
        n += 1;
        if n > maxid + 1 {
            return Fails; // calamine refuses a DIFAT chain this long
        }
        let Some(s) = sector(id) else { return Fails };
        difat.extend(words(s));
        let Some(next) = difat.pop() else { return Fails };
        id = next;
    }
    let listed: Vec<u32> = difat.into_iter().filter(|&i| i < DIFSECT).collect();
    if listed.len() > maxid + 1 {
        return looped("FAT", listed.len());
    }
    let mut fat = Vec::with_capacity(listed.len() * size / 4);
    for i in listed {
        let Some(s) = sector(i) else { return Fails };
        fat.extend(words(s));
    }
    // calamine's `get_chain`: sectors from `start` until ENDOFCHAIN or `len` bytes.
    // Err(None): calamine fails (a sector past the end, a FAT index out of range).
    let chain = |sectors: &dyn Fn(u32) -> Option<Vec<u8>>, fat: &[u32], start: u32, len: usize, most: usize| -> Result<Vec<u8>, Option<usize>> {
        let (mut id, mut n, mut out) = (start, 0usize, Vec::new());
        while id != ENDOFCHAIN {
            n += 1;
            if n > most {
                return Err(Some(n));
            }
            let s = sectors(id).ok_or(None)?;
            out.extend_from_slice(&s[..s.len().min(len - out.len())]);
            if out.len() >= len {
                break;
            }
            id = *fat.get(id as usize).ok_or(None)?;
        }
        Ok(out)
    };
    let big = |id: u32| sector(id).map(<[u8]>::to_vec);
    let dirs = match chain(&big, &fat, dir_start, usize::MAX, maxid + 1) {
        Ok(d) => d,
        Err(Some(n)) => return looped("directory chain", n),
        Err(None) => return Fails,
    };
    // Directory entries: name (UTF-16, to the first NUL), start sector, length.
    let mut entries = Vec::new();
    for d in dirs.chunks_exact(128) {
        let name: Vec<u16> = (0..32).map(|i| u16::from_le_bytes([d[2 * i], d[2 * i + 1]])).take_while(|&c| c != 0).collect();
        let len = if size == 512 { u32_at(d, 120).unwrap_or(0) as u64 } else { u64::from_le_bytes(d[120..128].try_into().unwrap_or([0; 8])) };
        entries.push((String::from_utf16_lossy(&name), u32_at(d, 116).unwrap_or(0), len));
    }
    let Some(&(_, root_start, root_len)) = entries.first() else { return Fails };
    if version != 3 && root_start == ENDOFCHAIN {
        return Fails;
    }
    let (mini, minifat) = if mini_fat_len > 0 {
        let mini = match chain(&big, &fat, root_start, root_len as usize, maxid + 1) {
            Ok(m) => m,
            Err(Some(n)) => return looped("mini stream", n),
            Err(None) => return Fails,
        };
        let minifat = match chain(&big, &fat, mini_fat_start, mini_fat_len.saturating_mul(size), maxid + 1) {
            Ok(m) => words(&m),
            Err(Some(n)) => return looped("mini FAT", n),
            Err(None) => return Fails,
        };
        (mini, minifat)
    } else {
        (Vec::new(), Vec::new())
    };
    // calamine reads a mini sector past the mini stream from wherever its reader is; zeros here
    // (the content differs only in a broken file, and calamine parses what is checked here).
    let small = |id: u32| -> Option<Vec<u8>> {
        if id as usize > maxid * 8 {
            return None;
        }
        let at = id as usize * 64;
        let mut s = mini.get(at..(at + 64).min(mini.len())).unwrap_or(&[]).to_vec();
        s.resize(64, 0);
        Some(s)
    };
    // `get_stream("Workbook").or_else(|_| get_stream("Book"))`: the first entry of that name.
    let mut found = false;
    for want in ["Workbook", "Book"] {
        let Some((name, start, len)) = entries.iter().find(|e| e.0.eq_ignore_ascii_case(want)) else { continue };
        found = true;
        if *len > cap {
            return Loops(format!(
                "xlsの{name}ストリームが{len}バイトと宣言(上限{cap}バイト)のため読みません / \
                 xls {name} stream claims {len} bytes, over the {cap}-byte bound (file size): not read"
            ));
        }
        let len = *len as usize;
        let got = if len < 4096 { chain(&small, &minifat, *start, len, usize::MAX) } else { chain(&big, &fat, *start, len, maxid + 1) };
        match got {
            Ok(s) => return Stream(name.clone(), s),
            Err(Some(n)) => return looped(&format!("{name} stream"), n),
            Err(None) => continue,
        }
    }
    if found { Fails } else { NoWorkbook }
}

/// The first limit the walk breaks, as an officer-facing reason.
pub(crate) fn refusal(w: &Walk, limits: &Limits) -> Option<String> {
    if w.continues > MAX_CONTINUES {
        return Some(format!(
            "xlsのレコードに{}個のCONTINUEレコードが続くため読みません(上限{MAX_CONTINUES}) / \
             an xls record is followed by {} CONTINUE records, over the bound of {MAX_CONTINUES}: not read",
            w.continues, w.continues
        ));
    }
    if w.too_many_sheets {
        return Some(format!(
            "xlsのシートが{MAX_SHEETS}を超えるため読みません / xls declares more than {MAX_SHEETS} sheets: not read"
        ));
    }
    if w.overwalked {
        return Some(format!(
            "xlsの{}シートの開始位置が重なり、ストリームの{}レコードを何度も読むことになるため読みません / \
             xls sheets overlap: {} sheets would read the stream's {} records more than twice over: not read",
            w.sheets.len(),
            w.records,
            w.sheets.len(),
            w.records
        ));
    }
    let max = limits.max_cells;
    for s in &w.sheets {
        for (what_ja, what_en, e) in [("セル範囲", "cells", &s.values), ("数式の範囲", "formulas", &s.formulas)] {
            if e.cells() > max {
                return Some(format!(
                    "xlsのシート「{}」の{what_ja}が{}行×{}列={}セルで上限max_cells {max}を超えるため読みません / \
                     xls sheet {} spans {} rows × {} columns = {} {what_en}, over the max_cells limit {max}: not read",
                    s.name,
                    e.rows(),
                    e.cols(),
                    e.cells(),
                    s.name,
                    e.rows(),
                    e.cols(),
                    e.cells()
                ));
            }
        }
    }
    let sum = |f: fn(&SheetClaim) -> u64| w.sheets.iter().map(f).sum::<u64>();
    let total = sum(|s| s.values.cells()).max(sum(|s| s.formulas.cells()));
    if total > max {
        return Some(format!(
            "xlsの全{}シートのセル範囲の合計{total}セルが上限max_cells {max}を超えるため読みません / \
             xls sheets span {total} cells in all ({} sheets), over the max_cells limit {max}: not read",
            w.sheets.len(),
            w.sheets.len()
        ));
    }
    let records = sum(|s| s.values.n).max(sum(|s| s.formulas.n));
    if records > max {
        return Some(format!(
            "xlsのセルレコード{records}件が上限max_cells {max}を超えるため読みません / \
             xls has {records} cell records, over the max_cells limit {max}: not read"
        ));
    }
    let sst = sum(|s| s.sst_bytes);
    if sst > limits.max_unpacked_bytes {
        return Some(format!(
            "xlsの共有文字列セルが最大{sst}バイトを複製するため読みません(上限max_unpacked_bytes {}) / \
             xls shared-string cells would copy up to {sst} bytes, over the max_unpacked_bytes limit {}: not read",
            limits.max_unpacked_bytes, limits.max_unpacked_bytes
        ));
    }
    None
}

/// A version-3 compound file holding `stream` under `name`.
fn rebuild(name: &str, stream: &[u8]) -> std::io::Result<Vec<u8>> {
    let buf = Cursor::new(Vec::with_capacity(stream.len() + stream.len() / 64 + 8192));
    let mut cf = cfb::CompoundFile::create_with_version(cfb::Version::V3, buf)?;
    {
        let mut s = cf.create_stream(format!("/{name}"))?;
        s.write_all(stream)?;
        s.flush()?;
    }
    cf.flush()?;
    Ok(cf.into_inner().into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(typ: u16, data: &[u8]) -> Vec<u8> {
        [&typ.to_le_bytes()[..], &(data.len() as u16).to_le_bytes(), data].concat()
    }

    fn number(row: u16, col: u16, v: f64) -> Vec<u8> {
        rec(NUMBER, &[&row.to_le_bytes()[..], &col.to_le_bytes(), &[0, 0], &v.to_le_bytes()].concat())
    }

    /// Globals (BOF, one BOUNDSHEET, EOF) and one sheet substream with `cells`.
    fn workbook(cells: &[Vec<u8>]) -> Vec<u8> {
        let bof = rec(BOF, &[0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let sheet_bof = rec(BOF, &[0x00, 0x06, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let name = b"Sheet1";
        let bs = |pos: u32| rec(BOUNDSHEET, &[&pos.to_le_bytes()[..], &[0, 0, name.len() as u8, 0], name].concat());
        let globals_len = bof.len() + bs(0).len() + 4;
        let mut s = [bof, bs(globals_len as u32), rec(EOF, &[])].concat();
        s.extend(sheet_bof);
        // DIMENSIONS claiming the whole BIFF8 sheet, as the zeroing must leave values alone.
        s.extend(rec(DIMENSIONS, &[&0u32.to_le_bytes()[..], &65536u32.to_le_bytes(), &0u16.to_le_bytes(), &256u16.to_le_bytes(), &[0, 0]].concat()));
        for c in cells {
            s.extend_from_slice(c);
        }
        s.extend(rec(EOF, &[]));
        s
    }

    fn xls(stream: &[u8]) -> Vec<u8> {
        rebuild("Workbook", stream).unwrap()
    }

    #[test]
    fn a_cell_at_the_last_row_and_column_is_refused() {
        let limits = Limits::default();
        let far = xls(&workbook(&[number(0, 0, 1.0), number(65535, 255, 2.0)]));
        let Precheck::Refused(reason) = precheck(&far, &limits) else { panic!("not refused") };
        assert!(reason.contains("Sheet1") && reason.contains("65536 rows × 256 columns = 16777216 cells"), "{reason}");
        assert!(reason.contains("max_cells limit 5000000"), "{reason}");
    }

    #[test]
    fn a_normal_sheet_passes_and_calamine_reads_the_rebuilt_file() {
        use calamine::Reader;
        let limits = Limits::default();
        let ok = xls(&workbook(&[number(0, 0, 1.0), number(99, 5, 2.0)]));
        let Precheck::Clean(clean) = precheck(&ok, &limits) else { panic!("refused") };
        let w = walk(&workbook(&[number(0, 0, 1.0), number(99, 5, 2.0)]));
        assert_eq!((w.sheets[0].values.rows(), w.sheets[0].values.cols()), (100, 6));
        let mut wb = calamine::Xls::new(Cursor::new(clean)).unwrap();
        let r = wb.worksheet_range("Sheet1").unwrap();
        assert_eq!(r.get_value((99, 5)), Some(&calamine::Data::Float(2.0)));
        assert_eq!(r.get_size(), (100, 6));
    }

    #[test]
    fn mulrk_spans_continue_and_shared_strings_are_counted_as_calamine_does() {
        // MULRK row 7, columns 10..=12.
        let mut m = vec![7, 0, 10, 0];
        for _ in 0..3 {
            m.extend([0, 0, 0, 0, 0xF0, 0x3F]);
        }
        m.extend(12u16.to_le_bytes());
        // SST of two strings, the second (400 chars, UTF-16) split by a CONTINUE.
        let mut sst = vec![2, 0, 0, 0, 2, 0, 0, 0];
        sst.extend([3, 0, 0, b'a', b'b', b'c']);
        sst.extend([0x90, 0x01, 1]);
        sst.extend(std::iter::repeat_n([0x30, 0x75], 100).flatten());
        let mut cont = vec![1];
        cont.extend(std::iter::repeat_n([0x30, 0x75], 300).flatten());
        let label = |row: u16, i: u32| rec(LABELSST, &[&row.to_le_bytes()[..], &[0, 0, 0, 0], &i.to_le_bytes()].concat());
        let mut s = workbook(&[rec(MULRK, &m), label(20, 1), label(21, 1), label(22, 5)]);
        // Put the SST (and its CONTINUE) into the globals, before their EOF: rebuild the
        // offsets by inserting ahead of the BOUNDSHEET's target.
        let extra = [rec(SST, &sst), rec(CONTINUE, &cont)].concat();
        let bof_len = 20;
        let bs_len = 4 + 4 + 4 + 6;
        let pos = u32::from_le_bytes(s[bof_len + 4..bof_len + 8].try_into().unwrap()) + extra.len() as u32;
        s[bof_len + 4..bof_len + 8].copy_from_slice(&pos.to_le_bytes());
        s.splice(bof_len + bs_len..bof_len + bs_len, extra);
        let w = walk(&s);
        let sh = &w.sheets[0];
        assert_eq!(sh.name, "Sheet1");
        // 3 MULRK cells + 2 LABELSST cells (index 5 does not exist: calamine skips it).
        assert_eq!(sh.values.n, 5);
        assert_eq!((sh.values.rows(), sh.values.cols()), (21 - 7 + 1, 13));
        assert_eq!(sh.sst_bytes, 2 * 3 * 400);
        use calamine::Reader;
        let Precheck::Clean(clean) = precheck(&xls(&s), &Limits::default()) else { panic!("refused") };
        let mut wb = calamine::Xls::new(Cursor::new(clean)).unwrap();
        let r = wb.worksheet_range("Sheet1").unwrap();
        assert_eq!((r.start(), r.end()), (Some((7, 0)), Some((21, 12))));
        assert_eq!(r.get_value((21, 0)).and_then(|v| calamine::DataType::get_string(v)).map(|s| s.chars().count()), Some(400));
        let limits = Limits { max_unpacked_bytes: 2000, ..Default::default() };
        let Precheck::Refused(reason) = precheck(&xls(&s), &limits) else { panic!("not refused") };
        assert!(reason.contains("2400 bytes"), "{reason}");
    }

    #[test]
    fn formulas_keep_their_value_and_lose_their_tokens() {
        use calamine::Reader;
        // FORMULA at B3 with cached value 42 and 4 tokens of 255 spaces each after a
        // missing-argument token: calamine would print 1,020 spaces.
        let mut rgce = vec![0x16];
        for _ in 0..4 {
            rgce.extend([0x19, 0x40, 0x00, 0xFF]);
        }
        let f = [&2u16.to_le_bytes()[..], &1u16.to_le_bytes(), &[0, 0], &42f64.to_le_bytes(), &[0, 0, 0, 0, 0, 0], &(rgce.len() as u16).to_le_bytes(), &rgce].concat();
        let s = workbook(&[rec(FORMULA, &f)]);
        let mut wb = calamine::Xls::new(Cursor::new(xls(&s))).unwrap();
        assert_eq!(wb.worksheet_formula("Sheet1").unwrap().get_value((2, 1)).map(|f| f.len()), Some(1020));
        let Precheck::Clean(clean) = precheck(&xls(&s), &Limits::default()) else { panic!("refused") };
        let mut wb = calamine::Xls::new(Cursor::new(clean)).unwrap();
        assert_eq!(wb.worksheet_range("Sheet1").unwrap().get_value((2, 1)), Some(&calamine::Data::Float(42.0)));
        assert_eq!(wb.worksheet_formula("Sheet1").unwrap().get_value((2, 1)).map(|f| f.len()), Some(0));
    }

    /// A workbook padded to 8 KB (so its stream is in regular sectors, not the mini stream).
    fn padded() -> Vec<u8> {
        rebuild("Workbook", &[workbook(&[number(0, 0, 1.0)]), vec![0; 8192]].concat()).unwrap()
    }

    /// [`padded`] with one FAT entry changed so that a chain loops.
    fn looped(kind: &str) -> Vec<u8> {
        let mut b = padded();
        let at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        let fat = 512 + at(&b, 76) * 512;
        let dir = at(&b, 48);
        let entry = 512 + dir * 512 + 128;
        let start = at(&b, entry + 116);
        let (slot, to) = match kind {
            // The directory chain's first sector points back at itself.
            "dir" => (dir, dir),
            // The Workbook stream claims 4 GB - 1 and its first sector loops.
            _ => {
                b[entry + 120..entry + 124].copy_from_slice(&u32::MAX.to_le_bytes());
                (start, start)
            }
        };
        b[fat + 4 * slot..fat + 4 * slot + 4].copy_from_slice(&(to as u32).to_le_bytes());
        b
    }

    #[test]
    fn sector_chain_loops_are_refused_before_calamine_follows_them() {
        // Both abort calamine 0.38 (allocation of 4 GB and more failed, 1.5 s each, measured in
        // a separate program with ulimit -v 4 GB): not run through calamine here.
        let limits = Limits::default();
        let dir = looped("dir");
        assert!(cfb::CompoundFile::open(Cursor::new(&dir[..])).is_err(), "the cfb crate sees the loop");
        let Precheck::Refused(reason) = precheck(&dir, &limits) else { panic!("directory loop not refused") };
        assert!(reason.contains("directory chain runs through") && reason.contains("a loop"), "{reason}");
        let stream = looped("stream");
        let Precheck::Refused(reason) = precheck(&stream, &limits) else { panic!("stream loop not refused") };
        assert!(reason.contains("stream claims 4294967295 bytes"), "{reason}");
        // Unlooped, neither walk refuses: the mirror of calamine's reader passes a sound file.
        assert!(matches!(calamine_view(&padded(), u64::MAX), CalamineView::Stream(..)));
        assert!(matches!(precheck(&padded(), &limits), Precheck::Clean(_)));
        let CalamineView::Loops(r) = calamine_view(&looped("stream"), u64::MAX) else { panic!("stream loop not seen") };
        assert!(r.contains("Workbook stream runs through"), "{r}");
    }

    #[test]
    fn many_continue_records_and_overlapping_sheets_are_refused() {
        let limits = Limits::default();
        // An SST of no strings followed by 40,000 empty CONTINUE records, in the globals.
        let mut s = workbook(&[number(0, 0, 1.0)]);
        let extra = [rec(SST, &[0; 8]), rec(CONTINUE, &[]).repeat(40_000)].concat();
        let pos = u32::from_le_bytes(s[24..28].try_into().unwrap()) + extra.len() as u32;
        s[24..28].copy_from_slice(&pos.to_le_bytes());
        s.splice(38..38, extra);
        assert_eq!(walk(&s).sheets[0].values.n, 1, "the sheet is still found");
        let Some(reason) = refusal(&walk(&s), &limits) else { panic!("not refused") };
        assert!(reason.contains("followed by 40000 CONTINUE records"), "{reason}");
        // 3,000 BOUNDSHEETs at one sheet of 200 cells: 600,000 records to read for 3,200.
        let cells: Vec<Vec<u8>> = (0..200).map(|r| number(r, 0, 1.0)).collect();
        let one = workbook(&cells);
        let bs = one[20..38].to_vec();
        let mut many = one[..20].to_vec();
        for _ in 0..3000 {
            many.extend_from_slice(&bs);
        }
        let shift = (many.len() - 38) as u32;
        for i in 0..3000 {
            let at = 20 + 18 * i + 4;
            let p = u32::from_le_bytes(many[at..at + 4].try_into().unwrap()) + shift;
            many[at..at + 4].copy_from_slice(&p.to_le_bytes());
        }
        many.extend_from_slice(&one[38..]);
        let w = walk(&many);
        assert!(w.overwalked && w.walked <= 2 * w.records + 10_001, "{} of {}", w.walked, w.records);
        let Some(reason) = refusal(&w, &limits) else { panic!("not refused") };
        assert!(reason.contains("sheets overlap: 3000 sheets"), "{reason}");
        // 70,000 BOUNDSHEETs: refused without walking them all.
        let mut lots = one[..20].to_vec();
        lots.extend(bs.repeat(70_000));
        lots.extend_from_slice(&one[38..]);
        let w = walk(&lots);
        assert_eq!((w.too_many_sheets, w.sheets.len()), (true, MAX_SHEETS));
        assert!(refusal(&w, &limits).is_some_and(|r| r.contains("more than 65536 sheets")));
        // The same sheet under 10 BOUNDSHEETs is only 2,000 records: read.
        let mut few = one[..20].to_vec();
        for _ in 0..10 {
            few.extend_from_slice(&bs);
        }
        let shift = (few.len() - 38) as u32;
        for i in 0..10 {
            let at = 20 + 18 * i + 4;
            let p = u32::from_le_bytes(few[at..at + 4].try_into().unwrap()) + shift;
            few[at..at + 4].copy_from_slice(&p.to_le_bytes());
        }
        few.extend_from_slice(&one[38..]);
        let w = walk(&few);
        assert_eq!((w.sheets.len(), w.overwalked, w.sheets[9].values.n), (10, false, 200));
    }

    #[test]
    fn a_directory_entry_the_cfb_crate_refuses_is_read_as_calamine_reads_it() {
        use calamine::Reader;
        // The Workbook entry's name-length field says 26,880 bytes (as in the file pii_zip
        // found): the cfb crate refuses the file, calamine ignores the field and reads it.
        let mut b = padded();
        let dir = u32::from_le_bytes(b[48..52].try_into().unwrap()) as usize;
        let entry = 512 + dir * 512 + 128;
        b[entry + 64..entry + 66].copy_from_slice(&26_880u16.to_le_bytes());
        assert!(cfb::CompoundFile::open(Cursor::new(&b[..])).is_err());
        assert!(calamine::Xls::new(Cursor::new(&b[..])).is_ok());
        let Precheck::Clean(clean) = precheck(&b, &Limits::default()) else { panic!("not checked") };
        let mut wb = calamine::Xls::new(Cursor::new(clean)).unwrap();
        assert_eq!(wb.worksheet_range("Sheet1").unwrap().get_value((0, 0)), Some(&calamine::Data::Float(1.0)));
        // And what calamine would allocate is checked on that path too.
        let mut far = rebuild("Workbook", &[workbook(&[number(0, 0, 1.0), number(65535, 255, 2.0)]), vec![0; 8192]].concat()).unwrap();
        far[entry + 64..entry + 66].copy_from_slice(&26_880u16.to_le_bytes());
        assert!(cfb::CompoundFile::open(Cursor::new(&far[..])).is_err());
        assert!(matches!(precheck(&far, &Limits::default()), Precheck::Refused(r) if r.contains("16777216 cells")));
    }

    #[test]
    fn not_a_workbook_is_left_to_calamine() {
        assert!(matches!(precheck(b"not a compound file", &Limits::default()), Precheck::Unopened));
        let other = rebuild("WordDocument", b"x").unwrap();
        assert!(matches!(precheck(&other, &Limits::default()), Precheck::Unopened));
    }

    /// Every sheet calamine reads from `original` it reads the same from the checked copy, and
    /// the walk's extents are the ranges calamine built. Returns a line for the report.
    fn same_as_calamine(name: &str, original: &[u8]) -> String {
        use calamine::Reader;
        let open = |b: &[u8]| {
            let b = b.to_vec();
            std::panic::catch_unwind(move || calamine::Xls::new(Cursor::new(b)).map_err(|e| e.to_string())).unwrap_or_else(|_| Err("panic".into()))
        };
        let before = open(original);
        let checked = precheck(original, &Limits::default());
        if before.is_ok() {
            // calamine's view, read here, is the stream the cfb crate gives.
            let CalamineView::Stream(_, mine) = calamine_view(original, u64::MAX) else { panic!("{name}: calamine reads it, its view here does not") };
            let mut cf = cfb::CompoundFile::open(Cursor::new(original)).unwrap();
            let p = ["Workbook", "Book"].iter().find_map(|w| cf.walk().find(|e| e.is_stream() && e.name().eq_ignore_ascii_case(w)).map(|e| e.path().to_path_buf())).unwrap();
            let mut theirs = Vec::new();
            cf.open_stream(p).unwrap().read_to_end(&mut theirs).unwrap();
            assert!(mine == theirs, "{name}: calamine's view {} bytes, cfb {} bytes", mine.len(), theirs.len());
        }
        let Ok(mut a) = before else {
            let pre = match checked {
                Precheck::Unopened => "passed through".to_string(),
                Precheck::Refused(r) => format!("refused: {r}"),
                Precheck::Clean(_) => "checked copy".to_string(),
            };
            return format!("{name}: calamine refuses the original ({}); pre-check: {pre}", before.err().unwrap());
        };
        let clean = match checked {
            Precheck::Clean(c) => c,
            Precheck::Unopened => return format!("{name}: calamine reads it, cfb does not open it (passed through)"),
            Precheck::Refused(r) => panic!("{name}: calamine reads it but the pre-check refuses it: {r}"),
        };
        let mut b = open(&clean).unwrap_or_else(|e| panic!("{name}: calamine refuses the checked copy: {e}"));
        assert_eq!(a.sheet_names(), b.sheet_names(), "{name}");
        // The walk of the checked stream (patches change no cell position).
        let mut cf = cfb::CompoundFile::open(Cursor::new(&clean[..])).unwrap();
        let path = cf.walk().find(|e| e.is_stream()).unwrap().path().to_path_buf();
        let mut stream = Vec::new();
        cf.open_stream(path).unwrap().read_to_end(&mut stream).unwrap();
        let w = walk(&stream);
        let (mut cells, mut exact) = (0, 0);
        for (i, sh) in a.sheet_names().iter().enumerate() {
            let (ra, rb) = (a.worksheet_range(sh).unwrap(), b.worksheet_range(sh).unwrap());
            assert_eq!((ra.start(), ra.end()), (rb.start(), rb.end()), "{name} {sh}");
            assert!(ra.cells().zip(rb.cells()).all(|(x, y)| x == y), "{name} {sh}: cells differ");
            let n = (ra.get_size().0 * ra.get_size().1) as u64;
            // calamine keeps the last sheet of a repeated name; the walk counts each.
            let claimed = w.sheets.iter().filter(|c| c.name == *sh).map(|c| c.values.cells()).max().unwrap_or(w.sheets.get(i).map_or(0, |c| c.values.cells()));
            assert!(claimed >= n, "{name} {sh}: walk {claimed} < calamine {n}");
            exact += usize::from(claimed == n);
            cells += n;
        }
        format!("{name}: same {} sheets, {cells} cells, walk extent exact on {exact}", a.sheet_names().len())
    }

    #[test]
    fn the_libreoffice_fixture_reads_the_same_through_the_pre_check() {
        let b = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pii-corpus/nara-roster50-libreoffice.xls")).unwrap();
        let line = same_as_calamine("nara-roster50-libreoffice.xls", &b);
        assert!(line.contains("same 1 sheets"), "{line}");
    }

    /// `MAMORI_XLS_DIR=DIR cargo test --release -p mamori-pii --lib -- --ignored xls_dir`: the
    /// same comparison for every .xls in DIR (calamine's own test files were checked this way).
    #[test]
    #[ignore = "needs MAMORI_XLS_DIR"]
    fn xls_dir_reads_the_same_through_the_pre_check() {
        let dir = std::env::var("MAMORI_XLS_DIR").expect("MAMORI_XLS_DIR");
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xls"))) {
            println!("{}", same_as_calamine(&p.file_name().unwrap().to_string_lossy(), &std::fs::read(p).unwrap()));
        }
    }
}
