//! The wire messages against bytes the Node.js side produces (the MessagePack values in
//! them alone: `rally`'s `tests/msgpack_value.rs`).
//!
//! Every `NODE_*` fixture was captured once from Redis while `socket.io` 4.8.4 with
//! `@socket.io/redis-adapter` 8.3.0 (notepack.io 3.0.1) and `@socket.io/redis-emitter`
//! 5.1.0 ran the call named beside it, with the adapter's uid set to `AbCdEf`
//! (responses: `notepack.encode` of the object literal `dist/index.js` publishes).

use bytes::Bytes;
use rally::{BroadcastOptions, Room};
use rally_redis::wire::{self, kind};
use serde_json::{json, Value};
use std::time::Duration;

fn hex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() & 1, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|r| Room::from(*r)).collect()
}

fn ph(num: usize) -> Value {
    json!({ "_placeholder": true, "num": num })
}

/// `io.to("room1").emit("chat message", "hi")`, channel `socket.io#/#room1#`.
const NODE_TO_ROOM: &str = "93a641624364456683a47479706502a46461746192ac63686174206d657373616765a26869a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380";
/// `io.emit("ev", Buffer.from([1,2,3]), {a: 1, b: [1.5, -3, 300, 70000, 5e9, -5e9, -200, -40000,
/// -3e9, null, true, "é"], u: undefined, n: NaN, d: new Date(1700000000123)},
/// new Uint8Array([9, 8]).buffer)`, channel `socket.io#/#`.
const NODE_ALL_TYPES: &str = "93a641624364456683a47479706502a46461746194a26576c40301020384a16101a1629ccb3ff8000000000000fdcd012cce00011170cf000000012a05f200d3fffffffed5fa0e00d1ff38d2ffff63c0d3ffffffff4d2fa200c0c3a2c3a9a16ecb7ff8000000000000a164d7ff1d5353006553f100c4020908a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";
/// `io.volatile.to(["r1", "r2"]).except("x").emit("v")`, channel `socket.io#/#`.
const NODE_VOLATILE: &str = "93a641624364456683a47479706502a46461746191a176a36e7370a12f83a5726f6f6d7392a27231a27232a665786365707491a178a5666c61677381a8766f6c6174696c65c3";
/// `io.timeout(150).to("r1").emit("ask", 1, Buffer.from([7]), cb)`: BROADCAST (7) on
/// `socket.io-request#/#`, requestId `fYwX0L`.
const NODE_BROADCAST_REQUEST: &str = "85a3756964a6416243644566a9726571756573744964a666597758304ca47479706507a67061636b657483a47479706502a46461746193a361736b01c40107a36e7370a12fa46f70747383a5726f6f6d7391a27231a665786365707490a5666c61677381a774696d656f7574cc96";
/// `{type: 9, requestId: "XyZ123", packet: Buffer.from([5, 6])}`.
const NODE_ACK_RESPONSE: &str =
    "83a47479706509a9726571756573744964a658795a313233a67061636b6574c4020506";
/// `{type: 9, requestId: "XyZ123", packet: undefined}` (a client acked with no argument).
const NODE_ACK_RESPONSE_EMPTY: &str = "82a47479706509a9726571756573744964a658795a313233";
/// `emitter.to("room1").volatile.emit("news", {x: 1})`, channel `socket.io#/#room1#`.
const EMITTER_TO_ROOM: &str = "93a7656d697474657283a47479706502a46461746192a46e65777381a17801a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677381a8766f6c6174696c65c3a665786365707490";
/// `emitter.of("chat").except("r3").emit("news", 2)`, channel `socket.io#/chat#`.
const EMITTER_EXCEPT: &str = "93a7656d697474657283a47479706502a46461746192a46e65777302a36e7370a52f6368617483a5726f6f6d7390a5666c61677380a665786365707491a27233";

// JSON requests, as text (the bytes on Redis are this UTF-8).
const NODE_SSE: &str = r#"{"uid":"AbCdEf","type":6,"data":["hello",1,{"a":"b"}]}"#;
const NODE_SSE_ACK: &str = r#"{"uid":"AbCdEf","requestId":"bX33iN","type":6,"data":["ask",2]}"#;
const NODE_FETCH: &str =
    r#"{"uid":"AbCdEf","requestId":"jO5KjE","type":5,"opts":{"rooms":["r1"],"except":["r2"]}}"#;
const NODE_ALL_ROOMS: &str = r#"{"uid":"AbCdEf","requestId":"5jh5jf","type":1}"#;
const NODE_JOIN: &str =
    r#"{"uid":"AbCdEf","type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["x","y"]}"#;
const NODE_LEAVE: &str =
    r#"{"uid":"AbCdEf","type":3,"opts":{"rooms":["r1"],"except":[]},"rooms":["x"]}"#;
const NODE_DISCONNECT: &str =
    r#"{"uid":"AbCdEf","type":4,"opts":{"rooms":["r1"],"except":[]},"close":true}"#;
const EMITTER_JOIN: &str = r#"{"type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r9"]}"#;
const EMITTER_SSE: &str = r#"{"uid":"emitter","type":6,"data":["ping",1]}"#;

#[test]
fn fixture_hex_is_the_captured_json_where_node_sends_json() {
    // The capture printed these as hex; the two spellings must agree.
    assert_eq!(
        hex("7b22756964223a22416243644566222c2274797065223a362c2264617461223a5b2268656c6c6f222c312c7b2261223a2262227d5d7d"),
        NODE_SSE.as_bytes()
    );
    assert_eq!(
        hex("7b2274797065223a322c226f707473223a7b22726f6f6d73223a5b227231225d2c22657863657074223a5b5d7d2c22726f6f6d73223a5b227239225d7d"),
        EMITTER_JOIN.as_bytes()
    );
}

#[test]
fn decodes_a_single_room_broadcast() {
    let msg = wire::parse_broadcast(&hex(NODE_TO_ROOM)).unwrap();
    assert_eq!(msg.uid.as_deref(), Some("AbCdEf"));
    assert_eq!(msg.nsp, "/");
    assert_eq!(msg.data, json!(["chat message", "hi"]));
    assert!(msg.attachments.is_empty());
    assert_eq!(msg.opts.rooms, rooms(&["room1"]));
    assert!(msg.opts.except.is_empty());
    assert!(!msg.opts.flags.volatile);
}

#[test]
fn encodes_a_single_room_broadcast_byte_for_byte() {
    let opts = BroadcastOptions {
        rooms: rooms(&["room1"]),
        ..Default::default()
    };
    let bytes = wire::broadcast_message("AbCdEf", "/", &json!(["chat message", "hi"]), &[], &opts);
    assert_eq!(bytes, hex(NODE_TO_ROOM));
}

#[test]
fn decodes_every_notepack_type_node_sends() {
    let msg = wire::parse_broadcast(&hex(NODE_ALL_TYPES)).unwrap();
    assert_eq!(
        msg.data,
        json!([
            "ev",
            ph(0),
            {
                "a": 1,
                "b": [1.5, -3, 300, 70000, 5_000_000_000u64, -5_000_000_000i64, -200, -40000, -3_000_000_000i64, null, true, "é"],
                // NaN → null and a Date → its ISO string, as JSON.stringify gives them to a client;
                // `u: undefined` was left out by notepack 3.
                "n": null,
                "d": "2023-11-14T22:13:20.123Z"
            },
            ph(1)
        ])
    );
    assert_eq!(
        msg.attachments,
        vec![Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[9, 8])]
    );
    // Key order survives (serde_json's preserve_order).
    let keys: Vec<&String> = msg.data[2].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["a", "b", "n", "d"]);
}

#[test]
fn encodes_numbers_strings_and_buffers_as_notepack_does() {
    // The all-types message without what cannot come back (NaN, Date, undefined):
    // re-encoding Node's decoded values gives Node's bytes.
    let data = json!([
        "ev",
        ph(0),
        {"a": 1, "b": [1.5, -3, 300, 70000, 5_000_000_000u64, -5_000_000_000i64, -200, -40000, -3_000_000_000i64, null, true, "é"]},
        ph(1)
    ]);
    let attachments = [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[9, 8])];
    let bytes = wire::broadcast_message(
        "AbCdEf",
        "/",
        &data,
        &attachments,
        &BroadcastOptions::default(),
    );
    // Node's bytes for this value: NODE_ALL_TYPES with map(2) instead of map(4) and the
    // `n` and `d` entries cut out.
    let start = hex("93a641624364456683a47479706502a46461746194a26576c40301020382a16101a1629c");
    let b_items = hex("cb3ff8000000000000fdcd012cce00011170cf000000012a05f200d3fffffffed5fa0e00d1ff38d2ffff63c0d3ffffffff4d2fa200c0c3a2c3a9");
    let tail = hex("c4020908a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380");
    assert_eq!(bytes, [start, b_items.clone(), tail].concat());
    let node = hex(NODE_ALL_TYPES);
    assert!(node.windows(b_items.len()).any(|w| w == b_items.as_slice()));
}

#[test]
fn flags_and_except_round_trip_byte_for_byte() {
    let msg = wire::parse_broadcast(&hex(NODE_VOLATILE)).unwrap();
    assert_eq!(msg.opts.rooms, rooms(&["r1", "r2"]));
    assert_eq!(msg.opts.except, rooms(&["x"]));
    assert!(msg.opts.flags.volatile);
    assert_eq!(msg.data, json!(["v"]));
    let bytes = wire::broadcast_message("AbCdEf", "/", &msg.data, &[], &msg.opts);
    assert_eq!(bytes, hex(NODE_VOLATILE));
}

#[test]
fn broadcast_with_ack_request_matches_node() {
    let (request, attachments) = wire::decode_message(&hex(NODE_BROADCAST_REQUEST)).unwrap();
    assert_eq!(
        request,
        json!({
            "uid": "AbCdEf",
            "requestId": "fYwX0L",
            "type": 7,
            "packet": {"type": 2, "data": ["ask", 1, ph(0)], "nsp": "/"},
            "opts": {"rooms": ["r1"], "except": [], "flags": {"timeout": 150}}
        })
    );
    assert_eq!(attachments, vec![Bytes::from_static(&[7])]);
    let opts = wire::parse_opts(&request["opts"], true);
    assert_eq!(opts.flags.timeout, Some(Duration::from_millis(150)));
    let (nsp, data) = wire::parse_packet(request["packet"].clone()).unwrap();
    assert_eq!(nsp, "/");
    let bytes = wire::broadcast_request("AbCdEf", "fYwX0L", "/", &data, &attachments, &opts);
    assert_eq!(bytes, hex(NODE_BROADCAST_REQUEST));
}

#[test]
fn broadcast_ack_responses_match_node() {
    let buffer = [Bytes::from_static(&[5, 6])];
    assert_eq!(
        wire::broadcast_ack_response("XyZ123", Some(&ph(0)), &buffer),
        hex(NODE_ACK_RESPONSE)
    );
    assert_eq!(
        wire::broadcast_ack_response("XyZ123", None, &[]),
        hex(NODE_ACK_RESPONSE_EMPTY)
    );
    let (value, attachments) = wire::decode_message(&hex(NODE_ACK_RESPONSE)).unwrap();
    assert_eq!(
        value,
        json!({"type": 9, "requestId": "XyZ123", "packet": ph(0)})
    );
    assert_eq!(attachments, buffer.to_vec());
}

#[test]
fn json_requests_match_node_text() {
    let r1 = BroadcastOptions {
        rooms: rooms(&["r1"]),
        ..Default::default()
    };
    let fetch_opts = BroadcastOptions {
        rooms: rooms(&["r1"]),
        except: rooms(&["r2"]),
        ..Default::default()
    };
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert_eq!(
        text(wire::server_side_emit_request(
            "AbCdEf",
            None,
            "hello",
            &[json!(1), json!({"a": "b"})],
            &[]
        )),
        NODE_SSE
    );
    assert_eq!(
        text(wire::server_side_emit_request(
            "AbCdEf",
            Some("bX33iN"),
            "ask",
            &[json!(2)],
            &[]
        )),
        NODE_SSE_ACK
    );
    assert_eq!(
        text(wire::fetch_request("AbCdEf", "jO5KjE", &fetch_opts)),
        NODE_FETCH
    );
    assert_eq!(
        text(wire::all_rooms_request("AbCdEf", "5jh5jf")),
        NODE_ALL_ROOMS
    );
    assert_eq!(
        text(wire::rooms_request(
            "AbCdEf",
            kind::REMOTE_JOIN,
            &r1,
            &rooms(&["x", "y"])
        )),
        NODE_JOIN
    );
    assert_eq!(
        text(wire::rooms_request(
            "AbCdEf",
            kind::REMOTE_LEAVE,
            &r1,
            &rooms(&["x"])
        )),
        NODE_LEAVE
    );
    assert_eq!(
        text(wire::disconnect_request("AbCdEf", &r1, true)),
        NODE_DISCONNECT
    );
}

#[test]
fn json_responses_have_node_field_order() {
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert_eq!(
        text(wire::client_count_response("XyZ123", 2)),
        r#"{"type":8,"requestId":"XyZ123","clientCount":2}"#
    );
    assert_eq!(
        text(wire::server_side_emit_response(
            "XyZ123",
            Some(&json!({"ok": 1})),
            &[]
        )),
        r#"{"type":6,"requestId":"XyZ123","data":{"ok":1}}"#
    );
    assert_eq!(
        text(wire::server_side_emit_response("XyZ123", None, &[])),
        r#"{"type":6,"requestId":"XyZ123"}"#
    );
    // A Buffer in a JSON message is what JSON.stringify makes of it.
    assert_eq!(
        text(wire::server_side_emit_response(
            "XyZ123",
            Some(&ph(0)),
            &[Bytes::from_static(&[1, 2])]
        )),
        r#"{"type":6,"requestId":"XyZ123","data":{"type":"Buffer","data":[1,2]}}"#
    );
}

#[test]
fn reads_what_the_emitter_publishes() {
    let msg = wire::parse_broadcast(&hex(EMITTER_TO_ROOM)).unwrap();
    assert_eq!(msg.uid.as_deref(), Some("emitter"));
    assert_eq!(msg.data, json!(["news", {"x": 1}]));
    assert_eq!(msg.opts.rooms, rooms(&["room1"]));
    assert!(
        msg.opts.flags.volatile,
        "flags come before except in the emitter's opts"
    );

    let msg = wire::parse_broadcast(&hex(EMITTER_EXCEPT)).unwrap();
    assert_eq!(msg.nsp, "/chat");
    assert!(msg.opts.rooms.is_empty());
    assert_eq!(msg.opts.except, rooms(&["r3"]));

    let (join, _) = wire::decode_message(EMITTER_JOIN.as_bytes()).unwrap();
    assert_eq!(
        join.get("uid"),
        None,
        "the emitter's room requests have no uid"
    );
    assert_eq!(join["type"], json!(kind::REMOTE_JOIN));
    assert_eq!(wire::parse_opts(&join["opts"], false).rooms, rooms(&["r1"]));
    assert_eq!(wire::rooms_of(join.get("rooms")), rooms(&["r9"]));

    let (sse, _) = wire::decode_message(EMITTER_SSE.as_bytes()).unwrap();
    assert_eq!(sse["uid"], json!("emitter"));
    assert_eq!(sse["data"], json!(["ping", 1]));
}

#[test]
fn numeric_rooms_from_the_emitter_become_their_decimal_text() {
    assert_eq!(
        wire::rooms_of(Some(&json!([42, "a", 1.5, null]))),
        rooms(&["42", "a", "1.5"])
    );
}

#[test]
fn malformed_messages_are_an_error_never_a_panic() {
    // Not a broadcast: errors, not panics.
    assert!(wire::parse_broadcast(&hex("c0")).is_err());
    assert!(wire::parse_broadcast(&hex("92a161a162")).is_err());
    assert!(
        wire::parse_broadcast(&hex("93a16183a47479706503a4646174619100a36e7370a12f80")).is_err()
    );
    assert!(wire::decode_message(b"{not json").is_err());
}

#[test]
fn random_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..40);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let _ = wire::parse_broadcast(&bytes);
        let _ = wire::decode_message(&bytes);
    }
}
