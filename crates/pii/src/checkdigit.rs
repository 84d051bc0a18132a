//! Check digits of Japanese identifiers and payment cards. Inputs are ASCII digit strings.

fn digits(s: &str) -> Option<Vec<u32>> {
    s.bytes().map(|b| b.is_ascii_digit().then(|| (b - b'0') as u32)).collect()
}

/// The `N` digit values of `s` if it is exactly `N` ASCII digits. A fixed array: the checks
/// run on every 11–13-digit number of a text (dense records have one every few hundred
/// bytes), and collecting into a `Vec` cost an allocation and two regrowths each.
fn digits_n<const N: usize>(s: &str) -> Option<[u32; N]> {
    let b = s.as_bytes();
    if b.len() != N {
        return None;
    }
    let mut d = [0u32; N];
    for (x, &c) in d.iter_mut().zip(b) {
        if !c.is_ascii_digit() {
            return None;
        }
        *x = (c - b'0') as u32;
    }
    Some(d)
}

/// 個人番号 (My Number, 12 digits): the last digit is the check digit defined in
/// 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条 and
/// 総務省令第85号 第5条: with Pn the n-th digit counted from the lowest of the first eleven
/// digits and Qn = n+1 (1≤n≤6) or n−5 (7≤n≤11), the check digit is 11 − (ΣPn×Qn mod 11),
/// or 0 when the remainder is ≤ 1.
pub fn my_number(s: &str) -> bool {
    let Some(d) = digits_n::<12>(s) else { return false };
    let sum: u32 = (1..=11).map(|n| d[11 - n] * if n <= 6 { n as u32 + 1 } else { n as u32 - 5 }).sum();
    let r = sum % 11;
    let cd = if r <= 1 { 0 } else { 11 - r };
    cd == d[11]
}

/// 法人番号 (corporate number, 13 digits): the *first* digit is the check digit
/// (法人番号の指定等に関する省令 第2条): with Pn the n-th digit counted from the lowest of
/// the other twelve and Qn = 1 for odd n, 2 for even n, the check digit is 9 − (ΣPn×Qn mod 9).
pub fn corporate_number(s: &str) -> bool {
    let Some(d) = digits_n::<13>(s) else { return false };
    let sum: u32 = (1..=12).map(|n| d[13 - n] * if n % 2 == 1 { 1 } else { 2 }).sum();
    9 - (sum % 9) == d[0]
}

/// 住民票コード (11 digits), modulus 11 with weights 2,3,4,5,6,7,2,3,4,5 from the lowest of
/// the first ten digits; check digit 11 − remainder, 0 when the remainder is ≤ 1. Written the
/// way the My Number 省令 writes it: Pn = the n-th of the ten digits counted from the lowest,
/// Qn = n+1 (1≤n≤6), n−5 (7≤n≤10).
///
/// Source: 住民基本台帳法施行規則 第1条 (a code is ten random digits and one 検査数字 computed
/// by "総務大臣が定める算式"); the 算式 is 平成14年総務省告示第436号 (「住民基本台帳法施行規則
/// 第一条第二号の規定に基づき、同号の総務大臣が定める算式を定める件」, 官報 2002-07-25 p. 6).
/// The 告示's own text is not reachable from here (no network; not in the searchable corpora,
/// 2026-12-02). What was found and agrees with this code: an independent implementation that
/// cites 告示第436号 with exactly these Pn/Qn and the remainder-≤1 → 0 rule (and says it could
/// not check the 官報 text either); Trellix DLP's "position weighted Mod11" for the code;
/// published sample codes 24727059608, 24846016224 and 25208017643, which pass (a wrong
/// weighting passes three random codes with odds of about 1 in 1,000). Nothing found
/// contradicts it, but the weights are not confirmed from the 告示 itself — see docs/pii.md.
pub fn juminhyo_code(s: &str) -> bool {
    let Some(d) = digits_n::<11>(s) else { return false };
    const W: [u32; 10] = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5];
    let sum: u32 = (0..10).map(|i| d[9 - i] * W[i]).sum();
    let r = sum % 11;
    let cd = if r <= 1 { 0 } else { 11 - r };
    cd == d[10]
}

/// Luhn (ISO/IEC 7812) over all digits.
pub fn luhn(s: &str) -> bool {
    // Over the bytes, without collecting the digits (see `digits_n`).
    let b = s.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .map(|&c| (c - b'0') as u32)
        .enumerate()
        .map(|(i, x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Payment card: Luhn plus a known IIN range and its length (Visa, Mastercard, JCB, Amex,
/// Diners, Discover/UnionPay).
pub fn credit_card(s: &str) -> bool {
    let n = s.len();
    if !(13..=19).contains(&n) || !luhn(s) {
        return false;
    }
    let p = |k: usize| s[..k].parse::<u32>().unwrap_or(0);
    let iin_ok = match s.as_bytes()[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&p(2)) && n == 16,
        b'2' => (2221..=2720).contains(&p(4)) && n == 16,
        b'3' => {
            ((3528..=3589).contains(&p(4)) && (16..=19).contains(&n))
                || (matches!(p(2), 34 | 37) && n == 15)
                || (matches!(p(2), 36 | 38 | 39) && (14..=19).contains(&n))
                || ((300..=305).contains(&p(3)) && (14..=19).contains(&n))
        }
        b'6' => (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3)) || p(2) == 62) && (16..=19).contains(&n),
        _ => false,
    };
    iin_ok && !s.bytes().all(|b| b == s.as_bytes()[0])
}

/// 保険者番号 (8 digits: 法別番号 2, 都道府県 2, 保険者別 3, 検証番号 1): products with
/// weights 2,1,2,1… from the last of the first seven digits, two-digit products summed as
/// digits, check = 10 − (sum mod 10), 0 when that is 10.
pub fn insurer_number(s: &str) -> bool {
    let Some(d) = digits_n::<8>(s) else { return false };
    let sum: u32 = (0..7)
        .map(|i| {
            let x = d[6 - i] * if i % 2 == 0 { 2 } else { 1 };
            x / 10 + x % 10
        })
        .sum();
    (10 - sum % 10) % 10 == d[7]
}

/// Compute the My Number check digit for 11 digits (corpus generation).
pub fn my_number_check(first11: &str) -> u32 {
    let d = digits(first11).unwrap_or_default();
    let sum: u32 = (1..=11).map(|n| d[11 - n] * if n <= 6 { n as u32 + 1 } else { n as u32 - 5 }).sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { 11 - r }
}

/// Compute the 法人番号 leading check digit for the 12 base digits.
pub fn corporate_check(base12: &str) -> u32 {
    let d = digits(base12).unwrap_or_default();
    let sum: u32 = (1..=12).map(|n| d[12 - n] * if n % 2 == 1 { 1 } else { 2 }).sum();
    9 - (sum % 9)
}

/// Compute the 住民票コード check digit for 10 digits.
pub fn juminhyo_check(first10: &str) -> u32 {
    const W: [u32; 10] = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5];
    let d = digits(first10).unwrap_or_default();
    let sum: u32 = (0..10).map(|i| d[9 - i] * W[i]).sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { 11 - r }
}

/// Compute the Luhn check digit to append to `body`.
pub fn luhn_check(body: &str) -> u32 {
    (0..10).find(|c| luhn(&format!("{body}{c}"))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn my_number_published_example() {
        // The example used in public explanations of 総務省令第85号.
        assert!(my_number("123456789018"));
        assert!(!my_number("123456789019"));
        assert!(my_number("983205673214"));
        assert_eq!(my_number_check("12345678901"), 8);
    }

    #[test]
    fn corporate_number_known_values() {
        // 国税庁 法人番号公表サイト: 7000012050002 is 国税庁 itself.
        assert!(corporate_number("7000012050002"));
        assert!(!corporate_number("8000012050002"));
        assert_eq!(corporate_check("000012050002"), 7);
    }

    #[test]
    fn juminhyo_code_samples() {
        assert!(juminhyo_code("24727059608"));
        assert!(juminhyo_code("24846016224"));
        assert!(juminhyo_code("25208017643"));
        assert!(!juminhyo_code("24846016225"));
        assert!(!juminhyo_code("25208017644"));
        // The weights are the My Number 省令's Qn over ten digits.
        let q: Vec<u32> = (1..=10).map(|n| if n <= 6 { n + 1 } else { n - 5 }).collect();
        assert_eq!(q, [2, 3, 4, 5, 6, 7, 2, 3, 4, 5]);
        assert_eq!(juminhyo_check("2520801764"), 3);
    }

    /// The checks as first written (digits collected into a `Vec`, its length checked).
    fn by_vec(kind: usize, s: &str) -> bool {
        let Some(d) = digits(s) else { return false };
        match kind {
            0 => d.len() == 12 && {
                let r = (1..=11).map(|n| d[11 - n] * if n <= 6 { n as u32 + 1 } else { n as u32 - 5 }).sum::<u32>() % 11;
                (if r <= 1 { 0 } else { 11 - r }) == d[11]
            },
            1 => d.len() == 13 && 9 - ((1..=12).map(|n| d[13 - n] * if n % 2 == 1 { 1 } else { 2 }).sum::<u32>() % 9) == d[0],
            2 => d.len() == 11 && {
                const W: [u32; 10] = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5];
                let r = (0..10).map(|i| d[9 - i] * W[i]).sum::<u32>() % 11;
                (if r <= 1 { 0 } else { 11 - r }) == d[10]
            },
            _ => {
                d.len() >= 2
                    && d.iter().rev().enumerate().map(|(i, &x)| if i % 2 == 1 { if x * 2 > 9 { x * 2 - 9 } else { x * 2 } } else { x }).sum::<u32>() % 10 == 0
            }
        }
    }

    #[test]
    fn fixed_array_checks_equal_the_vec_checks() {
        // Random digit strings of 0–20 characters, some with a non-digit, some with a valid
        // check digit forced (so both answers occur for every kind).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut valid = [0usize; 4];
        for round in 0..40_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 21) as usize;
            let mut s: String = (0..len).map(|k| (b'0' + ((x >> (k * 3 % 60)) % 10) as u8) as char).collect();
            if round % 3 == 0 && len == 12 {
                s.truncate(11);
                s.push(char::from_digit(my_number_check(&s), 10).unwrap());
            } else if round % 3 == 0 && len == 11 {
                s.truncate(10);
                s.push(char::from_digit(juminhyo_check(&s), 10).unwrap());
            } else if round % 3 == 0 && len == 13 {
                let c = corporate_check(&s[1..]);
                s.replace_range(0..1, &c.to_string());
            } else if round % 3 == 1 && len >= 2 {
                s.truncate(len - 1);
                s.push(char::from_digit(luhn_check(&s), 10).unwrap());
            }
            if round % 7 == 0 && len > 0 {
                s.replace_range(len / 2..len / 2 + 1, ["a", "-", " ", "\u{FF11}"][round % 4]);
            }
            let got = [my_number(&s), corporate_number(&s), juminhyo_code(&s), luhn(&s)];
            for (k, g) in got.iter().enumerate() {
                assert_eq!(*g, by_vec(k, &s), "kind {k}: {s:?}");
                valid[k] += *g as usize;
            }
        }
        assert!(valid.iter().all(|&v| v > 100), "{valid:?}");
    }

    #[test]
    fn cards_and_insurers() {
        assert!(credit_card("4111111111111111"));
        assert!(credit_card("3530111333300000")); // JCB test number
        assert!(!credit_card("4111111111111112"));
        assert!(!credit_card("1234567812345670")); // Luhn-valid, no IIN
        assert!(insurer_number("33120015")); // 千葉県警察 (example from insurer-number guides)
        assert!(!insurer_number("33120016"));
    }
}
