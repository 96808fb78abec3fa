//! The frame reader does not depend on how the stream is cut into reads.

use proptest::prelude::*;
use wsconform_wire::{
    Event, FrameReader, Limits, MessageAssembler, OpCode, ReadError, Role, encode_frame,
};

/// Everything a reader yields: each frame with its offset, the events, and
/// the error that stopped it.
#[derive(Debug, PartialEq)]
struct Read {
    frames: Vec<(u64, Vec<u8>)>,
    events: Vec<Event>,
    error: Option<ReadError>,
}

/// What a reader yields for `bytes` pushed in pieces cut at `cuts`.
fn read(bytes: &[u8], cuts: &[usize]) -> Read {
    let limits = Limits {
        max_frame_size: 1 << 12,
        max_message_size: 1 << 13,
    };
    let mut reader = FrameReader::new(Role::Client, limits);
    let mut messages = MessageAssembler::new(limits);
    let mut frames = Vec::new();
    let mut events = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    for point in points {
        reader.push(&bytes[at..point.max(at)]);
        at = point.max(at);
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    match messages.push(&frame) {
                        Ok(event) => events.extend(event),
                        Err(e) => {
                            return Read {
                                frames,
                                events,
                                error: Some(e),
                            };
                        }
                    }
                    frames.push((frame.offset, frame.bytes));
                }
                Ok(None) => break,
                Err(e) => {
                    return Read {
                        frames,
                        events,
                        error: Some(e),
                    };
                }
            }
        }
    }
    Read {
        frames,
        events,
        error: None,
    }
}

fn frame_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop_oneof![Just(0u8), Just(1), Just(2), Just(8), Just(9), Just(10)],
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(fin, op, payload)| {
            let mut out = Vec::new();
            encode_frame(&mut out, fin, OpCode::from_u8(op), None, &payload);
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_chunking_gives_the_same_frames(
        frames in prop::collection::vec(frame_strategy(), 0..8),
        noise in prop::collection::vec(any::<u8>(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut bytes: Vec<u8> = frames.concat();
        bytes.extend_from_slice(&noise);
        let whole = read(&bytes, &[]);
        let cut = read(&bytes, &cuts);
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let read = read(&bytes, &cuts);
        let consumed: usize = read.frames.iter().map(|(_, f)| f.len()).sum();
        prop_assert!(consumed <= bytes.len());
        if let Some(e) = read.error {
            prop_assert!(e.offset >= e.frame_offset);
            prop_assert!(e.offset <= bytes.len() as u64 + 14);
        }
    }
}
