//! The `send` step: one message or control frame, sent the way a client
//! should unless told otherwise.

use serde::Deserialize;

use super::{Chunks, CloseSpec, Delivery, Dur, LengthSpec, MaskSpec, Payload};

/// The kind of message or control frame a `send` step sends.
#[derive(Debug, Clone, PartialEq)]
pub enum SendKind {
    /// A text message.
    Text(Payload),
    /// A binary message.
    Binary(Payload),
    /// A ping.
    Ping(Payload),
    /// An unsolicited pong.
    Pong(Payload),
    /// A close frame.
    Close(CloseSpec),
}

impl SendKind {
    /// The YAML key that names this kind.
    pub fn name(&self) -> &'static str {
        match self {
            SendKind::Text(_) => "text",
            SendKind::Binary(_) => "binary",
            SendKind::Ping(_) => "ping",
            SendKind::Pong(_) => "pong",
            SendKind::Close(_) => "close",
        }
    }
}

/// `send`: one message or control frame, sent the way a client should
/// (masked, FIN set, minimal length) unless told otherwise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "SendFields")]
pub struct SendSpec {
    /// What is sent.
    pub kind: SendKind,
    /// Split the message into fragments of these sizes (the last takes the rest).
    pub fragments: Vec<usize>,
    /// Control frames sent between fragments: the first after fragment 1, and so on.
    pub between: Vec<SendKind>,
    /// The masking key for every frame.
    pub mask: MaskSpec,
    /// RSV bits (0..=7) set on the first frame.
    pub rsv: u8,
    /// Length form for every frame.
    pub length: LengthSpec,
    /// How the bytes are written.
    pub delivery: Delivery,
    /// Compress the message with permessage-deflate (RFC 7692): RSV1 on
    /// the first frame, the payload deflated with the connection's
    /// negotiated parameters, then cut into `fragments`.
    pub compress: bool,
}

impl SendSpec {
    /// A text message sent the ordinary way: masked, one frame, minimal length.
    pub fn text(text: &str) -> SendSpec {
        SendSpec::of(SendKind::Text(Payload::Text(text.to_owned())))
    }

    /// `kind` sent the ordinary way: masked, one frame, minimal length.
    pub fn of(kind: SendKind) -> SendSpec {
        SendSpec {
            kind,
            fragments: Vec::new(),
            between: Vec::new(),
            mask: MaskSpec::default(),
            rsv: 0,
            length: LengthSpec::default(),
            delivery: Delivery::default(),
            compress: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendFields {
    text: Option<Payload>,
    binary: Option<Payload>,
    ping: Option<Payload>,
    pong: Option<Payload>,
    close: Option<CloseSpec>,
    #[serde(default)]
    fragments: Vec<usize>,
    #[serde(default)]
    between: Vec<ControlFields>,
    #[serde(default)]
    mask: MaskSpec,
    #[serde(default)]
    rsv: u8,
    #[serde(default)]
    length: LengthSpec,
    #[serde(default)]
    chunks: Option<Chunks>,
    #[serde(default)]
    pause: Option<Dur>,
    #[serde(default)]
    compress: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlFields {
    ping: Option<Payload>,
    pong: Option<Payload>,
    close: Option<CloseSpec>,
}

/// The one kind of message or frame a `send` (or a `between` item) names,
/// from the kinds written (`None` for the keys left out).
fn exactly_one(
    written: impl IntoIterator<Item = Option<SendKind>>,
    allowed: &str,
) -> Result<SendKind, String> {
    let mut found: Vec<SendKind> = written.into_iter().flatten().collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("say what to send: one of {allowed}")),
        _ => {
            let names: Vec<&str> = found.iter().map(SendKind::name).collect();
            Err(format!(
                "send one thing per step, found {}",
                names.join(" and ")
            ))
        }
    }
}

impl TryFrom<SendFields> for SendSpec {
    type Error = String;

    fn try_from(f: SendFields) -> Result<SendSpec, String> {
        let kind = exactly_one(
            [
                f.text.map(SendKind::Text),
                f.binary.map(SendKind::Binary),
                f.ping.map(SendKind::Ping),
                f.pong.map(SendKind::Pong),
                f.close.map(SendKind::Close),
            ],
            "text, binary, ping, pong, close",
        )?;
        let between = f
            .between
            .into_iter()
            .map(|c| {
                exactly_one(
                    [
                        c.ping.map(SendKind::Ping),
                        c.pong.map(SendKind::Pong),
                        c.close.map(SendKind::Close),
                    ],
                    "ping, pong, close",
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if f.compress && !matches!(kind, SendKind::Text(_) | SendKind::Binary(_)) {
            return Err(format!(
                "compress applies to text and binary messages, not to {}",
                kind.name()
            ));
        }
        if f.rsv > 7 {
            return Err(format!("rsv is 3 bits (0..=7), {} does not fit", f.rsv));
        }
        Ok(SendSpec {
            kind,
            fragments: f.fragments,
            between,
            mask: f.mask,
            rsv: f.rsv,
            length: f.length,
            compress: f.compress,
            delivery: Delivery {
                chunks: f.chunks,
                pause: f.pause,
            },
        })
    }
}
