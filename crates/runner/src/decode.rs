//! Annotating frame bytes for people: the teaching view of the wire.
//!
//! Used by `wsconform decode HEX` and by every transcript line in a report:
//! `81 85 37fa213d … FIN text MASK len=5 "Hello"`. The annotator never trusts
//! its input: bytes that do not form a complete frame are shown as such.

use wsconform_wire::{FramePiece, LengthForm, OpCode, split_frames};

use crate::hex::to_hex;
use crate::wording::count;

/// One frame (or a cut-off piece of one) found in a byte sequence: the wire
/// crate's [`FramePiece`].
pub type FrameView = FramePiece;

/// Splits `bytes` into frames with the wire crate's splitter. The last view
/// may be incomplete.
pub fn frames(bytes: &[u8]) -> Vec<FrameView> {
    split_frames(bytes)
}

/// A payload shown the short way: quoted text when it is UTF-8, hex otherwise.
pub fn show_payload(payload: &[u8], limit: usize) -> String {
    let cut = payload.get(..limit).unwrap_or(payload);
    let more = if payload.len() > limit { "…" } else { "" };
    match std::str::from_utf8(cut) {
        Ok(text) if !text.chars().any(|c| c.is_control() && c != '\n') => {
            format!("{:?}{more}", text)
        }
        _ => format!("[{}{more}]", to_hex(cut)),
    }
}

/// The one-line summary: `FIN text MASK len=5 "Hello"`.
pub fn summary(view: &FrameView) -> String {
    let Some(h) = view.header else {
        return format!(
            "incomplete frame header ({})",
            count(view.header_len as u64, "byte")
        );
    };
    let mut parts = Vec::new();
    if h.fin {
        parts.push("FIN".to_string());
    }
    for (bit, name) in [(h.rsv1, "RSV1"), (h.rsv2, "RSV2"), (h.rsv3, "RSV3")] {
        if bit {
            parts.push(name.to_string());
        }
    }
    parts.push(h.opcode.name());
    if h.mask.is_some() {
        parts.push("MASK".into());
    }
    let mut len = format!("len={}", h.payload_len);
    let minimal = LengthForm::minimal_for(h.payload_len);
    match view.form {
        Some(form) if form != minimal => {
            len.push_str(&format!(" ({} form, not minimal)", form_name(form)))
        }
        _ => {}
    }
    parts.push(len);
    if h.opcode == OpCode::Close
        && let [high, low, rest @ ..] = view.payload.as_slice()
    {
        let code = u16::from_be_bytes([*high, *low]);
        let reason = String::from_utf8_lossy(rest);
        if reason.is_empty() {
            parts.push(format!("code={code}"));
        } else {
            parts.push(format!("code={code} {reason:?}"));
        }
    } else if !view.payload.is_empty() {
        parts.push(show_payload(&view.payload, 40));
    }
    if !view.complete {
        parts.push(format!(
            "(only {} of {} payload bytes present)",
            view.payload.len(),
            h.payload_len
        ));
    }
    parts.join(" ")
}

fn form_name(form: LengthForm) -> &'static str {
    match form {
        LengthForm::Minimal | LengthForm::Bits7 => "7-bit",
        LengthForm::Bits16 => "16-bit",
        LengthForm::Bits64 => "64-bit",
    }
}

/// The header bytes grouped the way people read them: `81 85 37fa213d`.
pub fn header_hex(bytes: &[u8], header_len: usize) -> String {
    let header = bytes.get(..header_len).unwrap_or(bytes);
    let Some((Some(h), Some(form))) = split_frames(header).first().map(|p| (p.header, p.form))
    else {
        return to_hex(header);
    };
    let part = |range: std::ops::Range<usize>| to_hex(header.get(range).unwrap_or_default());
    let mut out = part(0..2);
    let len_end = 2 + match form {
        LengthForm::Bits16 => 2,
        LengthForm::Bits64 => 8,
        _ => 0,
    };
    if len_end > 2 {
        out.push(' ');
        out.push_str(&part(2..len_end).replace(' ', ""));
    }
    if h.mask.is_some() {
        out.push(' ');
        out.push_str(&part(len_end..len_end + 4).replace(' ', ""));
    }
    out
}

/// The teaching view of `decode HEX`: every field on its own line.
pub fn explain_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for view in frames(bytes) {
        let raw = bytes.get(view.start..).unwrap_or_default();
        let Some(h) = view.header else {
            out.push_str(&format!(
                "{:<20} incomplete header: a frame header needs at least 2 bytes, more for long lengths and the mask\n",
                to_hex(raw)
            ));
            break;
        };
        out.push_str(&format!(
            "frame at byte {}: {}\n",
            view.start,
            summary(&view)
        ));
        let b0 = raw.first().copied().unwrap_or_default();
        out.push_str(&format!(
            "  {:<18} FIN={} RSV1={} RSV2={} RSV3={} opcode=0x{:x} ({})\n",
            format!("{b0:02x}"),
            u8::from(h.fin),
            u8::from(h.rsv1),
            u8::from(h.rsv2),
            u8::from(h.rsv3),
            h.opcode.as_u8(),
            match h.opcode {
                OpCode::Reserved(_) => "reserved: must fail the connection".to_string(),
                other => other.name(),
            }
        ));
        let b1 = raw.get(1).copied().unwrap_or_default();
        let len7 = b1 & 0x7f;
        let len_note = match len7 {
            126 => "126: the length follows in 16 bits".to_string(),
            127 => "127: the length follows in 64 bits".to_string(),
            n => format!("length {n}"),
        };
        out.push_str(&format!(
            "  {:<18} MASK={} {}\n",
            format!("{b1:02x}"),
            u8::from(h.mask.is_some()),
            len_note
        ));
        let mut at = 2;
        let extra = match view.form {
            Some(LengthForm::Bits16) => 2,
            Some(LengthForm::Bits64) => 8,
            _ => 0,
        };
        if extra > 0 {
            let minimal = LengthForm::minimal_for(h.payload_len);
            let note = if Some(minimal) == view.form {
                String::new()
            } else {
                " (not the minimal form: RFC 6455 5.2 requires the shortest)".to_string()
            };
            out.push_str(&format!(
                "  {:<18} payload length {}{note}\n",
                to_hex(raw.get(at..at + extra).unwrap_or_default()).replace(' ', ""),
                h.payload_len
            ));
            at += extra;
        }
        if let Some(key) = h.mask {
            out.push_str(&format!(
                "  {:<18} masking key\n",
                to_hex(&key).replace(' ', "")
            ));
            at += 4;
        }
        if h.payload_len > 0 {
            let masked = raw.get(at..).unwrap_or_default();
            let masked = masked.get(..view.payload.len()).unwrap_or(masked);
            let shown = masked.get(..16).unwrap_or(masked);
            let dots = if masked.len() > 16 { " …" } else { "" };
            let state = if h.mask.is_some() {
                "masked payload"
            } else {
                "payload"
            };
            out.push_str(&format!(
                "  {:<18} {state}, {} → {}\n",
                format!("{}{dots}", to_hex(shown).replace(' ', "")),
                count(view.payload.len() as u64, "byte"),
                show_payload(&view.payload, 60)
            ));
        }
        if !view.complete {
            out.push_str(&format!(
                "  cut off: the header announces {} payload bytes, {} are present\n",
                h.payload_len,
                view.payload.len()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::parse_hex;

    #[test]
    fn summarises_the_rfc_example() {
        let bytes = parse_hex("81 85 37fa213d 7f9f4d5158").unwrap();
        let views = frames(&bytes);
        assert_eq!(views.len(), 1);
        assert_eq!(summary(&views[0]), "FIN text MASK len=5 \"Hello\"");
        assert_eq!(header_hex(&bytes, views[0].header_len), "81 85 37fa213d");
        let text = explain_bytes(&bytes);
        assert!(text.contains("masking key"), "{text}");
        assert!(text.contains("\"Hello\""), "{text}");
    }

    #[test]
    fn flags_non_minimal_and_cut_off() {
        let bytes = parse_hex("81 7e 0005 4865").unwrap();
        let views = frames(&bytes);
        let s = summary(&views[0]);
        assert!(s.contains("16-bit form, not minimal"), "{s}");
        assert!(s.contains("only 2 of 5 payload bytes present"), "{s}");
        assert_eq!(frames(&[0x81]).len(), 1);
        assert!(frames(&[0x81])[0].header.is_none());
    }
}
