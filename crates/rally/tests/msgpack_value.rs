//! The MessagePack value codec ([`rally::msgpack`]) against what notepack.io writes: the
//! forms Node.js sends through the Redis adapters (notepack 3.0.1), the older forms
//! notepack 3's decoder still reads (notepack 2.2.0, written from its `lib/decode.js`),
//! and the JavaScript meaning of values JSON has not (`undefined`, `Date`, Buffer keys).
//! These are the peers' rules; a client's, where they differ, are tested with the packet
//! codec.

use bytes::Bytes;
use rally::msgpack::{self as codec, DecodeError};
use serde_json::{json, Value};

fn hex(s: &str) -> Vec<u8> {
    let digit = |pair: &[u8]| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16);
    s.as_bytes()
        .chunks(2)
        .map(|pair| digit(pair).unwrap())
        .collect()
}

fn ph(num: usize) -> Value {
    json!({ "_placeholder": true, "num": num })
}

#[test]
fn legacy_encodings_that_notepack_3_still_reads() {
    // notepack 2: undefined was `d4 00 00`; in an array it is null, in a map it is left out.
    let (v, _) = codec::decode(&hex("92d40000c0")).unwrap();
    assert_eq!(v, json!([null, null]));
    let (v, _) = codec::decode(&hex("82a161d40000a16201")).unwrap();
    assert_eq!(v, json!({"b": 1}));
    assert_eq!(codec::decode(&hex("d40000")).unwrap().0, Value::Null);
    // ext8 type 0: an ArrayBuffer, i.e. binary.
    let (v, att) = codec::decode(&hex("91c7020007ff")).unwrap();
    assert_eq!(v, json!([ph(0)]));
    assert_eq!(att, vec![Bytes::from_static(&[7, 0xff])]);
    // fixext8 type 0: a Date in epoch milliseconds (hi int32, lo uint32).
    // (Each of these decodes the same in notepack 3.0.1, checked with node.)
    let (v, _) = codec::decode(&hex("d7000000018bcfe5687b")).unwrap();
    assert_eq!(v, json!("2023-11-14T22:13:20.123Z"));
    // timestamp 32 and 96 (ext -1).
    assert_eq!(
        codec::decode(&hex("d6ff6553f100")).unwrap().0,
        json!("2023-11-14T22:13:20.000Z")
    );
    assert_eq!(
        codec::decode(&hex("c70cff07547d40000000006553f100"))
            .unwrap()
            .0,
        json!("2023-11-14T22:13:20.122Z") // 122 977 600 ns: truncated to whole ms, as in node
    );
    // Unknown extensions: [type, <binary>] like notepack's [type, Buffer].
    let (v, att) = codec::decode(&hex("d50501ff")).unwrap();
    assert_eq!(v, json!([5, ph(0)]));
    assert_eq!(att, vec![Bytes::from_static(&[1, 0xff])]);
    // float32 is read (notepack never writes it).
    assert_eq!(codec::decode(&hex("ca3fc00000")).unwrap().0, json!(1.5));
}

#[test]
fn non_string_map_keys_become_javascript_property_names() {
    // {1: "a", null: "b", true: "c"}
    let (v, _) = codec::decode(&hex("8301a161c0a162c3a163")).unwrap();
    assert_eq!(v, json!({"1": "a", "null": "b", "true": "c"}));
    // A Buffer key is its UTF-8 text, and is not an attachment.
    let (v, att) = codec::decode(&hex("81c4026869a178")).unwrap();
    assert_eq!(v, json!({"hi": "x"}));
    assert!(att.is_empty());
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    assert_eq!(codec::decode(&[]), Err(DecodeError::UnexpectedEnd));
    assert_eq!(codec::decode(&[0xc1]), Err(DecodeError::InvalidByte(0xc1)));
    assert_eq!(
        codec::decode(&[0x01, 0x02]),
        Err(DecodeError::TrailingBytes(1))
    );
    // A 4 GiB string announced in five bytes: refused without allocating it.
    assert_eq!(
        codec::decode(&hex("dbffffffff61")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        codec::decode(&hex("ddffffffff")),
        Err(DecodeError::UnexpectedEnd)
    );
    // Nesting deeper than the limit.
    let deep = vec![0x91u8; codec::MAX_DEPTH + 2];
    assert_eq!(codec::decode(&deep), Err(DecodeError::TooDeep));
}

#[test]
fn timestamps_at_the_edges_of_date() {
    // Hand-built extension values; `want` is JSON.stringify(notepack.decode(...)).
    let cases = [
        (
            "c70cff00000000000007dba8218000",
            json!("+275760-09-13T00:00:00.000Z"),
        ),
        ("c70cff00000000000007dba8218001", Value::Null),
        (
            "c70cff0007a120ffffffffffffffff",
            json!("1969-12-31T23:59:59.001Z"),
        ),
        (
            "c70cff00000000fffffff184aa5080",
            json!("-000001-01-01T00:00:00.000Z"),
        ),
        (
            "c70cff00000000fffff82457de8000",
            json!("-271821-04-20T00:00:00.000Z"),
        ),
        (
            "c70cff000000000000003afff44180",
            json!("+010000-01-01T00:00:00.000Z"),
        ),
        (
            "c70cff3b9ac9ff0000000000000000",
            json!("1970-01-01T00:00:00.999Z"),
        ),
        (
            "c70cffffffffff0000000000000000",
            json!("1970-01-01T00:00:04.294Z"),
        ),
        ("d7000000000000000000", json!("1970-01-01T00:00:00.000Z")),
        ("d700001eb208c2dc0000", json!("+275760-09-13T00:00:00.000Z")),
        ("d700001eb208c2dc0001", Value::Null),
        ("d7004000000000000000", Value::Null),
        ("d7ffffffffffffffffff", json!("2514-05-30T01:53:04.073Z")),
        ("d6ffffffffff", json!("2106-02-07T06:28:15.000Z")),
    ];
    for (value, want) in cases {
        assert_eq!(codec::decode(&hex(value)).unwrap().0, want, "{value}");
    }
    // A timestamp 96 of another length is an unknown extension for a peer (a client's
    // packet is refused: the packet codec's tests).
    let (v, att) = codec::decode(&hex("c70bff0000000000000000000000")).unwrap();
    assert_eq!(v, json!([-1, ph(0)]));
    assert_eq!(att, vec![Bytes::from(vec![0; 11])]);
}

#[test]
fn integers_take_the_smallest_form() {
    let cases: [(Value, &str); 12] = [
        (json!(0), "00"),
        (json!(127), "7f"),
        (json!(128), "cc80"),
        (json!(256), "cd0100"),
        (json!(65536), "ce00010000"),
        (json!(4_294_967_296_u64), "cf0000000100000000"),
        (json!(-1), "ff"),
        (json!(-32), "e0"),
        (json!(-33), "d0df"),
        (json!(-129), "d1ff7f"),
        (json!(-32769), "d2ffff7fff"),
        (json!(i64::MIN), "d38000000000000000"),
    ];
    for (value, want) in cases {
        let bytes = codec::encode(&value, &[]);
        assert_eq!(bytes, hex(want), "{value}");
        assert_eq!(codec::decode(&bytes).unwrap().0, value);
    }
    // notepack writes an integral number as an integer, whatever Rust held it as.
    assert_eq!(codec::encode(&json!(2.0), &[]), hex("02"));
    assert_eq!(codec::encode(&json!(-40000.0), &[]), hex("d2ffff63c0"));
    assert_eq!(codec::encode(&json!(-0.0), &[]), hex("00"));
    assert_eq!(
        codec::decode(&hex("cb8000000000000000")).unwrap().0,
        json!(0)
    );
}

#[test]
fn peers_are_read_leniently() {
    // Invalid UTF-8 is replaced, as Node's Buffer#toString does.
    assert_eq!(codec::decode(&hex("a2c328")).unwrap().0, json!("\u{fffd}("));
    // A repeated key given undefined keeps the earlier value.
    let (v, _) = codec::decode(&hex("82a16101a161d40000")).unwrap();
    assert_eq!(v, json!({"a": 1}));
    // Containers MAX_DEPTH deep may be empty.
    let mut deep = vec![0x91u8; codec::MAX_DEPTH];
    deep.push(0x90);
    assert!(codec::decode(&deep).is_ok());
    *deep.last_mut().unwrap() = 0x80;
    assert!(codec::decode(&deep).is_ok());
    *deep.last_mut().unwrap() = 0x91;
    deep.push(0xc0);
    assert_eq!(codec::decode(&deep), Err(DecodeError::TooDeep));
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e15f64..1e15)
                .prop_filter("not integral", |f| f.fract() != 0.0)
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{0,6}", inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = codec::decode(&bytes);
        }

        #[test]
        fn json_survives_encode_then_decode(value in json_value()) {
            let bytes = codec::encode(&value, &[]);
            let (back, attachments) = codec::decode(&bytes).unwrap();
            prop_assert!(attachments.is_empty());
            prop_assert_eq!(back, value);
        }

        #[test]
        fn buffers_survive_as_placeholders(blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4)) {
            let attachments: Vec<Bytes> = blobs.into_iter().map(Bytes::from).collect();
            let data = Value::Array((0..attachments.len()).map(ph).collect());
            let bytes = codec::encode(&data, &attachments);
            let (back, got) = codec::decode(&bytes).unwrap();
            prop_assert_eq!(back, data);
            prop_assert_eq!(got, attachments);
        }
    }
}
