//! Micro-benchmarks of the protocol core: `cargo bench -p wsconform-wire`.
//!
//! Masking is measured next to a plain copy of the same buffer: a copy is the
//! least work any server does with a payload, so "mask / copy" says how close
//! to free unmasking is.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsconform_wire::{
    Decoder, FrameHeader, LengthForm, Limits, OpCode, Role, Utf8Validator, apply_mask,
    apply_mask_bytewise, encode_frame,
};

const SIZES: [usize; 5] = [64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];

fn header(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    let h = FrameHeader {
        mask: Some([1, 2, 3, 4]),
        ..FrameHeader::new(OpCode::Binary, 70_000)
    };
    let mut bytes = Vec::new();
    let _ = h.encode(LengthForm::Minimal, &mut bytes);
    group.bench_function("parse", |b| {
        b.iter(|| FrameHeader::parse(black_box(&bytes)))
    });
    let mut out = Vec::with_capacity(16);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&h).encode(LengthForm::Minimal, &mut out)
        })
    });
    group.finish();
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for size in SIZES {
        let source = vec![0x5Au8; size];
        let mut buf = source.clone();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("copy", size), &size, |b, _| {
            b.iter(|| buf.copy_from_slice(black_box(&source)))
        });
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), key, 1))
        });
        if size <= 64 * 1024 {
            group.bench_with_input(BenchmarkId::new("bytewise", size), &size, |b, _| {
                b.iter(|| apply_mask_bytewise(black_box(&mut buf), key, 1))
            });
        }
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for size in [64usize, 64 * 1024] {
        let text: Vec<u8> = "Hello-µ@ßöäüàá-UTF-8!! κόσμε "
            .repeat(size / 30 + 1)
            .into_bytes()
            .into_iter()
            .take(size)
            .collect();
        let cut = text.len() / 2;
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("validator_two_pieces", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    let _ = v.feed(black_box(&text[..cut]));
                    let _ = v.feed(black_box(&text[cut..]));
                })
            },
        );
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for size in [64usize, 64 * 1024] {
        // One message in four fragments with a ping in the middle.
        let payload = vec![b'a'; size];
        let quarter = size / 4;
        let mut bytes = Vec::new();
        let key = Some([1, 2, 3, 4]);
        encode_frame(&mut bytes, false, OpCode::Text, key, &payload[..quarter]);
        encode_frame(
            &mut bytes,
            false,
            OpCode::Continuation,
            key,
            &payload[quarter..2 * quarter],
        );
        encode_frame(&mut bytes, true, OpCode::Ping, key, b"ping");
        encode_frame(
            &mut bytes,
            false,
            OpCode::Continuation,
            key,
            &payload[2 * quarter..3 * quarter],
        );
        encode_frame(
            &mut bytes,
            true,
            OpCode::Continuation,
            key,
            &payload[3 * quarter..],
        );
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("fragmented_text", size), &size, |b, _| {
            b.iter(|| {
                let mut decoder = Decoder::new(Role::Server, Limits::default());
                let mut at = 0;
                let mut events = 0;
                while let Ok((used, event)) = decoder.decode(&bytes[at..]) {
                    at += used;
                    match event {
                        Some(_) => events += 1,
                        None => break,
                    }
                }
                black_box(events)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, header, masking, utf8, decode);
criterion_main!(benches);
