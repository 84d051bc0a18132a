//! RFC 5322 mail via `mail-parser`: headers (From/To/Cc/Subject), text bodies (HTML bodies
//! with tags stripped) and every attachment, extracted recursively.

use super::{Budget, Content, Extracted, Place, Segment, extract_into, guarded, problem};
use mail_parser::MimeHeaders;

pub(crate) fn extract_mail(member: Option<&str>, bytes: &[u8], depth: usize, budget: &mut Budget, ex: &mut Extracted) {
    let parsed = guarded(|| {
        mail_parser::MessageParser::default()
            .parse(bytes)
            .ok_or_else(|| "not a message".to_string())
    });
    let msg = match parsed {
        Ok(m) => m,
        Err(e) => {
            problem(ex, member, format!("メールを読めません / unreadable mail: {e}"));
            return;
        }
    };
    let mut head = String::new();
    for (name, addr) in [("From", msg.from()), ("To", msg.to()), ("Cc", msg.cc())] {
        if let Some(a) = addr {
            for x in a.iter() {
                head.push_str(&format!("{name}: {} <{}>\n", x.name().unwrap_or(""), x.address().unwrap_or("")));
            }
        }
    }
    if let Some(s) = msg.subject() {
        head.push_str(&format!("Subject: {s}\n"));
    }
    let mut body = head;
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            body.push_str(&t);
            body.push('\n');
        }
    }
    if msg.text_body_count() == 0 {
        for i in 0..msg.html_body_count() {
            if let Some(h) = msg.body_html(i) {
                body.push_str(&strip_tags(&h));
                body.push('\n');
            }
        }
    }
    let here = member.map(str::to_string);
    ex.segments.push(Segment {
        member: here.clone(),
        place: Place::Text,
        content: Content::Text(body),
    });
    if depth >= budget.limits.max_depth {
        if msg.attachment_count() > 0 {
            ex.truncated = true;
            problem(
                ex,
                member,
                format!(
                    "入れ子が深すぎます / nesting deeper than {}: attachments not read",
                    budget.limits.max_depth
                ),
            );
        }
        return;
    }
    for (i, att) in msg.attachments().enumerate() {
        let name = att
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        let path = match &here {
            Some(h) => format!("{h}/{name}"),
            None => name.clone(),
        };
        // A text attachment without a charset (a CP932 CSV) is decoded by mail-parser as
        // UTF-8 and mangled: take the transfer-decoded raw bytes and detect the encoding here.
        let raw_text;
        let contents: &[u8] = if att.is_text() && att.content_type().and_then(|c| c.attribute("charset")).is_none() {
            let raw = msg.raw_message().get(att.raw_body_offset() as usize..att.raw_end_offset() as usize).unwrap_or_default();
            raw_text = match att.content_transfer_encoding().map(|e| e.to_ascii_lowercase()) {
                Some(e) if e == "base64" => mail_parser::decoders::base64::base64_decode(raw),
                Some(e) if e == "quoted-printable" => mail_parser::decoders::quoted_printable::quoted_printable_decode(raw),
                _ => Some(raw.to_vec()),
            };
            raw_text.as_deref().unwrap_or(att.contents())
        } else {
            att.contents()
        };
        budget.unpacked += contents.len() as u64;
        if budget.unpacked > budget.limits.max_unpacked_bytes {
            ex.truncated = true;
            problem(ex, Some(&path), "展開量の上限 / unpacked-bytes limit reached".into());
            break;
        }
        extract_into(&name, Some(&path), contents, depth + 1, budget, ex);
    }
}

fn strip_tags(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut in_tag = false;
    for c in h.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}
