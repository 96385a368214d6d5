//! Event and ack arguments whose JSON may hold binary attachments anywhere.
//!
//! On the wire a binary value inside an argument is a placeholder object
//! `{"_placeholder":true,"num":n}` and the bytes travel as attachment `n`
//! (see `crate::packet`). [`Args`] keeps exactly that representation — JSON
//! values with placeholders plus the attachment list — so that relaying a
//! client's message re-emits it unchanged, and converts to user types only on
//! request.
//!
//! Why a thread-local: serde offers no way to pass context (the attachment
//! list) into a nested `Serialize`/`Deserialize` impl, yet users want a
//! [`Binary`] field anywhere in their own types. So for the duration of one
//! synchronous serde call we install a collector (when building [`Args`]) or
//! a source (in [`Args::get`]) on a per-thread stack; [`Binary`] looks at the
//! top of it. Frames are pushed and popped by drop guards, so nested use and
//! errors (or panics) mid-call leave nothing behind, and no frame ever
//! outlives the call, so nothing leaks across `.await` points.
//!
//! Outside such a call, serializing or deserializing a [`Binary`] is an
//! error rather than, say, a JSON array of numbers: a silent fallback would
//! send clients an array where they expect an `ArrayBuffer`/`Buffer`.

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::ser::{self, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

mod list;

/// Event/ack arguments: JSON values with placeholders plus the binary
/// attachments they point to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// One JSON value per argument; binary values in them are placeholders.
    pub values: Vec<Value>,
    /// The binary values the placeholders point to, indexed by their `num`.
    pub attachments: Vec<Bytes>,
}

impl Args {
    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Deserializes argument `i` into `T`; [`Binary`] values anywhere in `T`
    /// take their bytes from `self.attachments`.
    pub fn get<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgsError> {
        let value = self.values.get(i).ok_or(ArgsError::Missing(i))?;
        // Cloning Bytes only bumps reference counts.
        let _frame = Frame::push(&SOURCE, self.attachments.clone());
        T::deserialize(value).map_err(ArgsError::Json)
    }

    /// Deserializes the whole argument list into `T`, usually a tuple:
    /// `args.parse::<(String, Option<String>)>()`. A left-out trailing argument
    /// reads as `null` and extra ones are ignored, as a JavaScript listener's
    /// parameters would; `Vec<T>` takes them all. [`Binary`] values anywhere in `T`
    /// take their bytes from the attachments. An error names the argument.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        let _frame = Frame::push(&SOURCE, self.attachments.clone());
        T::deserialize(list::ArgList(&self.values)).map_err(ArgsError::Json)
    }

    /// Appends one argument, serialized like a tuple element of
    /// [`IntoArgs`]; its [`Binary`] values are numbered after the existing
    /// attachments.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ArgsError> {
        // The frame works on a copy, so on error `self` is left as it was.
        let frame = Frame::push(&SINK, self.attachments.clone());
        let value = serde_json::to_value(value).map_err(ArgsError::Json)?;
        if let Some(attachments) = frame.finish() {
            self.attachments = attachments;
        }
        self.values.push(value);
        Ok(())
    }

    /// Appends another `Args`' arguments, renumbering their placeholders after
    /// this one's attachments: how answers from several clients, each with its
    /// own attachments, become the arguments of one packet.
    pub fn append(&mut self, other: Args) {
        let offset = self.attachments.len() as u64;
        for mut value in other.values {
            if offset > 0 {
                shift_placeholders(&mut value, offset);
            }
            self.values.push(value);
        }
        self.attachments.extend(other.attachments);
    }

    /// Splits a decoded EVENT packet's data array (`[name, ...args]`) into the
    /// event name and its arguments. A numeric name (which the Node parser
    /// accepts) becomes its decimal text.
    pub fn from_event(data: Value, attachments: Vec<Bytes>) -> Result<(String, Args), ArgsError> {
        let Value::Array(mut values) = data else {
            return Err(ArgsError::NotAnEvent);
        };
        let name = match values.first_mut() {
            Some(Value::String(name)) => std::mem::take(name),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(ArgsError::NotAnEvent),
        };
        // The arguments keep the packet's array (and its spare slot, which
        // `into_event_data` refills when the event is relayed).
        values.remove(0);
        Ok((
            name,
            Args {
                values,
                attachments,
            },
        ))
    }

    /// Wraps a decoded ACK packet's data array.
    pub fn from_ack(data: Value, attachments: Vec<Bytes>) -> Result<Args, ArgsError> {
        match data {
            Value::Array(values) => Ok(Args {
                values,
                attachments,
            }),
            _ => Err(ArgsError::NotAnAck),
        }
    }

    /// An EVENT packet's data array `[event, ...values]` and its attachments.
    /// Consumes the arguments: relaying a payload moves it, never copies it.
    pub fn into_event_data(self, event: &str) -> (Value, Vec<Bytes>) {
        let mut items = self.values;
        items.insert(0, Value::String(event.to_owned()));
        (Value::Array(items), self.attachments)
    }

    /// An ACK packet's data array and its attachments.
    pub fn into_ack_data(self) -> (Value, Vec<Bytes>) {
        (Value::Array(self.values), self.attachments)
    }
}

/// Bytes usable anywhere inside user types (struct fields, `Vec<Binary>`,
/// tuples, enums). While [`IntoArgs`] / [`Args::push`] runs it serializes to
/// a placeholder and records the bytes as an attachment; inside
/// [`Args::get`] it deserializes from a placeholder by taking the bytes from
/// that `Args`' attachments. Anywhere else both directions return a serde
/// error (see the module docs for why).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Binary(pub Bytes);

impl From<Bytes> for Binary {
    fn from(bytes: Bytes) -> Self {
        Self(bytes)
    }
}

impl From<Vec<u8>> for Binary {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Binary {
    fn from(bytes: &'static [u8]) -> Self {
        Self(Bytes::from_static(bytes))
    }
}

impl AsRef<[u8]> for Binary {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = with_top(&SINK, |frame| {
            frame.push(self.0.clone());
            // Cannot underflow: the frame was just pushed to.
            frame.len() - 1
        });
        let Some(num) = num else {
            return Err(ser::Error::custom(
                "args::Binary can only be serialized while building Args \
                 (IntoArgs or Args::push), where it becomes a binary attachment",
            ));
        };
        // Field order matches the reference implementation's placeholders.
        let mut placeholder = serializer.serialize_struct("Placeholder", 2)?;
        placeholder.serialize_field("_placeholder", &true)?;
        placeholder.serialize_field("num", &num)?;
        placeholder.end()
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PlaceholderVisitor)
    }
}

struct PlaceholderVisitor;

impl<'de> Visitor<'de> for PlaceholderVisitor {
    type Value = Binary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a binary attachment placeholder {\"_placeholder\":true,\"num\":n}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
        let mut is_placeholder = false;
        let mut num: Option<u64> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "_placeholder" => is_placeholder = map.next_value::<bool>()?,
                "num" => num = Some(map.next_value()?),
                // Like the Node parser, extra keys do not matter.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let num = match (is_placeholder, num) {
            (true, Some(num)) => num,
            _ => return Err(de::Error::custom("not a binary attachment placeholder")),
        };
        let found = with_top(&SOURCE, |attachments| {
            usize::try_from(num)
                .ok()
                .and_then(|n| attachments.get(n).cloned())
        });
        match found {
            Some(Some(bytes)) => Ok(Binary(bytes)),
            Some(None) => Err(de::Error::custom(format_args!(
                "placeholder refers to missing attachment {num}"
            ))),
            None => Err(de::Error::custom(
                "args::Binary can only be deserialized through Args::get",
            )),
        }
    }
}

/// Converts handler return values and emit arguments into [`Args`].
pub trait IntoArgs {
    /// The arguments this value stands for; fails when a value does not serialize.
    fn into_args(self) -> Result<Args, ArgsError>;
}

/// No arguments.
impl IntoArgs for () {
    fn into_args(self) -> Result<Args, ArgsError> {
        Ok(Args::default())
    }
}

/// As-is, so a received `Args` can be relayed unchanged.
impl IntoArgs for Args {
    fn into_args(self) -> Result<Args, ArgsError> {
        Ok(self)
    }
}

/// Each element is one plain-JSON argument; placeholder-shaped objects are
/// not interpreted and no attachments are produced.
impl IntoArgs for Vec<Value> {
    fn into_args(self) -> Result<Args, ArgsError> {
        Ok(Args {
            values: self,
            attachments: Vec::new(),
        })
    }
}

/// One argument, whatever it holds (an array included): an ack's answer
/// built with `json!`.
impl IntoArgs for Value {
    fn into_args(self) -> Result<Args, ArgsError> {
        Ok(Args {
            values: vec![self],
            attachments: Vec::new(),
        })
    }
}

macro_rules! tuple_into_args {
    ($($name:ident)+) => {
        /// Each element is one argument; [`Binary`] values anywhere inside
        /// become attachments numbered in serialization order.
        impl<$($name: Serialize),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Result<Args, ArgsError> {
                let ($($name,)+) = self;
                // One frame for all elements: numbering is per packet.
                let frame = Frame::push(&SINK, Vec::new());
                let values = vec![$(serde_json::to_value(&$name).map_err(ArgsError::Json)?),+];
                // Without a frame every Binary failed above, so nothing is lost.
                Ok(Args { values, attachments: frame.finish().unwrap_or_default() })
            }
        }
    };
}

tuple_into_args!(A);
tuple_into_args!(A B);
tuple_into_args!(A B C);
tuple_into_args!(A B C D);
tuple_into_args!(A B C D E);
tuple_into_args!(A B C D E F);
tuple_into_args!(A B C D E F G);
tuple_into_args!(A B C D E F G H);

/// Why argument handling failed.
#[derive(Debug)]
pub enum ArgsError {
    /// There is no argument at this index.
    Missing(usize),
    /// (De)serialization failed, including misuse or bad placeholders of
    /// [`Binary`].
    Json(serde_json::Error),
    /// Event data is not an array starting with a string or number name.
    NotAnEvent,
    /// Ack data is not an array.
    NotAnAck,
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(i) => write!(f, "argument {i} is missing"),
            Self::Json(e) => write!(f, "invalid argument: {e}"),
            Self::NotAnEvent => f.write_str("event data is not an array starting with a name"),
            Self::NotAnAck => f.write_str("ack data is not an array"),
        }
    }
}

impl std::error::Error for ArgsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

type Stack = RefCell<Vec<Vec<Bytes>>>;

thread_local! {
    /// Attachments being collected by `Binary::serialize`, innermost last.
    static SINK: Stack = const { RefCell::new(Vec::new()) };
    /// Attachments `Binary::deserialize` reads from, innermost last.
    static SOURCE: Stack = const { RefCell::new(Vec::new()) };
}

type StackKey = std::thread::LocalKey<Stack>;

/// Runs `f` on the innermost frame; `None` when there is none (or the
/// thread-local is being torn down, or already borrowed).
fn with_top<R>(key: &'static StackKey, f: impl FnOnce(&mut Vec<Bytes>) -> R) -> Option<R> {
    key.try_with(|stack| {
        let mut stack = stack.try_borrow_mut().ok()?;
        stack.last_mut().map(f)
    })
    .ok()
    .flatten()
}

/// A pushed frame; dropping it pops the frame and any deeper one a misbehaving
/// nested call might have left.
struct Frame {
    key: &'static StackKey,
    depth: usize,
}

impl Frame {
    fn push(key: &'static StackKey, initial: Vec<Bytes>) -> Self {
        let depth = key
            .try_with(|stack| {
                stack.try_borrow_mut().map_or(usize::MAX, |mut stack| {
                    stack.push(initial);
                    stack.len()
                })
            })
            .unwrap_or(usize::MAX);
        // usize::MAX marks "not pushed": Binary then reports no context.
        Self { key, depth }
    }

    /// Pops the frame, returning what it collected (`None` if it was never
    /// pushed).
    fn finish(self) -> Option<Vec<Bytes>> {
        let depth = self.depth;
        self.key
            .try_with(|stack| {
                let mut stack = stack.try_borrow_mut().ok()?;
                stack.get_mut(depth.checked_sub(1)?).map(std::mem::take)
            })
            .ok()
            .flatten()
        // `self` drops here and truncates the stack.
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let depth = self.depth;
        if depth == usize::MAX {
            return;
        }
        let _ = self.key.try_with(|stack| {
            if let Ok(mut stack) = stack.try_borrow_mut() {
                stack.truncate(depth.saturating_sub(1));
            }
        });
    }
}

/// Adds `offset` to the `num` of every placeholder object inside `value`.
fn shift_placeholders(value: &mut Value, offset: u64) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| shift_placeholders(v, offset)),
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(num) = map.get("num").and_then(Value::as_u64) {
                    map.insert("num".to_owned(), Value::from(num + offset));
                    return;
                }
            }
            map.values_mut().for_each(|v| shift_placeholders(v, offset));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{encode, Decoder, Packet, PacketKind};
    use proptest::prelude::*;
    use serde_json::json;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Upload {
        name: String,
        file: Binary,
        chunks: Vec<Binary>,
        meta: Meta,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Meta {
        zeta: u32,
        alpha: Option<Binary>,
        mid: (u8, Binary),
    }

    fn ph(n: u64) -> Value {
        json!({"_placeholder": true, "num": n})
    }

    fn bin(b: &'static [u8]) -> Binary {
        Binary::from(b)
    }

    fn stacks_empty() -> bool {
        SINK.with(|s| s.borrow().is_empty()) && SOURCE.with(|s| s.borrow().is_empty())
    }

    fn upload() -> Upload {
        Upload {
            name: "a.txt".into(),
            file: bin(b"file"),
            chunks: vec![bin(b"c0"), bin(b"c1")],
            meta: Meta {
                zeta: 1,
                alpha: Some(bin(b"alpha")),
                mid: (7, bin(b"mid")),
            },
        }
    }

    #[test]
    fn nested_binaries_become_ordered_placeholders() {
        let args = (bin(b"first"), upload(), "text", vec![bin(b"last")])
            .into_args()
            .unwrap();
        assert_eq!(args.len(), 4);
        assert_eq!(args.values[0], ph(0));
        assert_eq!(
            args.values[1],
            json!({
                "name": "a.txt",
                "file": ph(1),
                "chunks": [ph(2), ph(3)],
                "meta": {"zeta": 1, "alpha": ph(4), "mid": [7, ph(5)]},
            })
        );
        assert_eq!(args.values[2], json!("text"));
        assert_eq!(args.values[3], json!([ph(6)]));
        let want: Vec<&[u8]> = vec![
            &b"first"[..],
            b"file",
            b"c0",
            b"c1",
            b"alpha",
            b"mid",
            b"last",
        ];
        assert_eq!(args.attachments, want);
        assert!(stacks_empty());
    }

    #[test]
    fn get_reads_binaries_back() {
        let args = (bin(b"first"), upload(), 5u8, vec![bin(b"x"), bin(b"y")])
            .into_args()
            .unwrap();
        assert_eq!(args.get::<Binary>(0).unwrap(), bin(b"first"));
        assert_eq!(args.get::<Upload>(1).unwrap(), upload());
        assert_eq!(args.get::<u8>(2).unwrap(), 5);
        assert_eq!(
            args.get::<Vec<Binary>>(3).unwrap(),
            vec![bin(b"x"), bin(b"y")]
        );
        // Raw access keeps the placeholder.
        assert_eq!(args.get::<Value>(0).unwrap(), ph(0));
        assert!(matches!(args.get::<u8>(4), Err(ArgsError::Missing(4))));
        assert!(matches!(args.get::<String>(2), Err(ArgsError::Json(_))));
        assert!(stacks_empty());
    }

    #[test]
    fn full_wire_round_trip_through_packet_codec() {
        let args = ("hi", upload()).into_args().unwrap();
        let (data, attachments) = args.clone().into_event_data("upload");
        let packet = Packet::event("/up", data, attachments, Some(9));
        let text = encode(&packet);
        assert!(
            text.starts_with("55-/up,9[\"upload\",\"hi\",{\"name\""),
            "{text}"
        );
        let mut dec = Decoder::new(10);
        let mut out = dec.feed_text(&text).unwrap();
        for a in &packet.attachments {
            out = dec.feed_binary(a.clone()).unwrap();
        }
        let got = out.unwrap();
        assert_eq!(got.kind, PacketKind::BinaryEvent);
        let (name, received) = Args::from_event(got.data.unwrap(), got.attachments).unwrap();
        assert_eq!(name, "upload");
        assert_eq!(received, args);
        assert_eq!(received.get::<String>(0).unwrap(), "hi");
        assert_eq!(received.get::<Upload>(1).unwrap(), upload());
        // Relaying as-is re-encodes the identical text.
        let (data, attachments) = received
            .clone()
            .into_args()
            .unwrap()
            .into_event_data("upload");
        let again = Packet::event("/up", data, attachments, Some(9));
        assert_eq!(encode(&again), text);
    }

    #[test]
    fn key_order_is_preserved() {
        #[derive(Serialize)]
        struct Ordered {
            zulu: u8,
            alpha: u8,
            mike: Binary,
        }
        let args = (Ordered {
            zulu: 1,
            alpha: 2,
            mike: bin(b"m"),
        },)
            .into_args()
            .unwrap();
        assert_eq!(
            args.into_ack_data().0.to_string(),
            r#"[{"zulu":1,"alpha":2,"mike":{"_placeholder":true,"num":0}}]"#
        );
        let v: Value = serde_json::from_str(r#"{"b":1,"a":2,"c":3}"#).unwrap();
        let args = Args {
            values: vec![v],
            attachments: vec![],
        };
        assert_eq!(
            args.get::<Value>(0).unwrap().to_string(),
            r#"{"b":1,"a":2,"c":3}"#
        );
    }

    #[test]
    fn from_event_and_from_ack() {
        let (name, args) = Args::from_event(
            json!(["ev", 1, {"k": ph(0)}]),
            vec![Bytes::from_static(b"z")],
        )
        .unwrap();
        assert_eq!(name, "ev");
        assert_eq!(args.values, vec![json!(1), json!({"k": ph(0)})]);
        assert_eq!(args.into_event_data("ev").0, json!(["ev", 1, {"k": ph(0)}]));
        let (name, args) = Args::from_event(json!([12]), vec![]).unwrap();
        assert_eq!((name.as_str(), args.is_empty()), ("12", true));
        for bad in [
            json!([]),
            json!({}),
            json!([null]),
            json!([["x"]]),
            json!("x"),
        ] {
            assert!(matches!(
                Args::from_event(bad, vec![]),
                Err(ArgsError::NotAnEvent)
            ));
        }
        let args = Args::from_ack(json!([1, "two"]), vec![]).unwrap();
        assert_eq!(args.into_ack_data().0, json!([1, "two"]));
        assert!(matches!(
            Args::from_ack(json!({}), vec![]),
            Err(ArgsError::NotAnAck)
        ));
    }

    #[test]
    fn into_args_for_unit_values_and_all_tuple_sizes() {
        assert_eq!(().into_args().unwrap(), Args::default());
        let vals = vec![json!(1), ph(0)];
        let args = vals.clone().into_args().unwrap();
        assert_eq!((args.values, args.attachments.len()), (vals, 0));
        let args = (1, 2, 3, 4, 5, 6, 7, bin(b"8")).into_args().unwrap();
        assert_eq!(args.len(), 8);
        assert_eq!(args.values[7], ph(0));
        assert_eq!(args.get::<Binary>(7).unwrap(), bin(b"8"));
        assert_eq!(
            (1, "b").into_args().unwrap().values,
            vec![json!(1), json!("b")]
        );
    }

    #[test]
    fn push_numbers_after_existing_attachments() {
        let mut args = (bin(b"a"),).into_args().unwrap();
        args.push(&vec![bin(b"b"), bin(b"c")]).unwrap();
        args.push("plain").unwrap();
        assert_eq!(args.values[1], json!([ph(1), ph(2)]));
        assert_eq!(args.attachments.len(), 3);
        assert_eq!(
            args.get::<Vec<Binary>>(1).unwrap(),
            vec![bin(b"b"), bin(b"c")]
        );
        // A failing push leaves args unchanged.
        let before = args.clone();
        let bad: std::collections::HashMap<Vec<u8>, Binary> =
            [(vec![1u8], bin(b"k"))].into_iter().collect();
        assert!(matches!(args.push(&bad), Err(ArgsError::Json(_))));
        assert_eq!(args, before);
        assert!(stacks_empty());
    }

    #[test]
    fn binary_outside_args_is_a_clear_error() {
        let err = serde_json::to_value(bin(b"x")).unwrap_err();
        assert!(err
            .to_string()
            .contains("only be serialized while building Args"));
        let err = serde_json::from_value::<Binary>(ph(0)).unwrap_err();
        assert!(err
            .to_string()
            .contains("only be deserialized through Args::get"));
    }

    #[test]
    fn bad_placeholders_are_errors() {
        let args = Args {
            values: vec![
                ph(1),
                json!({"_placeholder": false, "num": 0}),
                json!({"num": 0}),
                json!("str"),
                json!({"_placeholder": true, "num": -1}),
                json!({"_placeholder": true, "num": 0, "extra": [1]}),
            ],
            attachments: vec![Bytes::from_static(b"only")],
        };
        let err = args.get::<Binary>(0).unwrap_err();
        assert!(err.to_string().contains("missing attachment 1"), "{err}");
        for i in 1..5 {
            assert!(
                matches!(args.get::<Binary>(i), Err(ArgsError::Json(_))),
                "{i}"
            );
        }
        assert_eq!(args.get::<Binary>(5).unwrap(), bin(b"only"));
        assert!(stacks_empty());
    }

    #[test]
    fn thread_local_is_cleared_after_errors() {
        #[derive(Serialize)]
        struct Bad {
            ok: Binary,
            // Map keys must be strings in JSON: serialization fails mid-way.
            bad: std::collections::BTreeMap<(u8, u8), u8>,
        }
        let value = Bad {
            ok: bin(b"x"),
            bad: [((1, 2), 3)].into_iter().collect(),
        };
        assert!(matches!((value,).into_args(), Err(ArgsError::Json(_))));
        assert!(stacks_empty());
        // The next build starts numbering from zero again.
        let args = (bin(b"y"),).into_args().unwrap();
        assert_eq!(args.values[0], ph(0));
        // And a panic inside serialization unwinds the frame too.
        struct Panics;
        impl Serialize for Panics {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                panic!("boom")
            }
        }
        let r = std::panic::catch_unwind(|| (bin(b"z"), Panics).into_args());
        assert!(r.is_err());
        assert!(stacks_empty());
    }

    #[test]
    fn reentrant_use_keeps_frames_separate() {
        // A Serialize impl that builds other Args while the outer one builds.
        struct Inner;
        impl Serialize for Inner {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let nested = (bin(b"n0"), bin(b"n1"))
                    .into_args()
                    .map_err(ser::Error::custom)?;
                assert_eq!(nested.values, vec![ph(0), ph(1)]);
                (nested.attachments.len() as u64).serialize(s)
            }
        }
        let args = (bin(b"o0"), Inner, bin(b"o1")).into_args().unwrap();
        assert_eq!(args.values, vec![ph(0), json!(2), ph(1)]);
        assert_eq!(args.attachments, vec![&b"o0"[..], &b"o1"[..]]);

        // A Deserialize impl that reads another Args while the outer one reads.
        #[derive(Debug)]
        struct ReadsOther(Binary, Binary);
        impl<'de> Deserialize<'de> for ReadsOther {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let other = Args {
                    values: vec![ph(0)],
                    attachments: vec![Bytes::from_static(b"other")],
                };
                let theirs = other.get::<Binary>(0).map_err(de::Error::custom)?;
                let ours = Binary::deserialize(d)?;
                Ok(ReadsOther(ours, theirs))
            }
        }
        let args = Args {
            values: vec![ph(1)],
            attachments: vec![Bytes::from_static(b"zero"), Bytes::from_static(b"mine")],
        };
        let r = args.get::<ReadsOther>(0).unwrap();
        assert_eq!((r.0, r.1), (bin(b"mine"), bin(b"other")));
        assert!(stacks_empty());
    }

    #[test]
    fn works_through_untagged_enums_and_flatten() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        #[serde(untagged)]
        enum Either {
            Text { text: String },
            Blob { blob: Binary },
        }
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Outer {
            id: u8,
            #[serde(flatten)]
            rest: Either,
        }
        let v = Outer {
            id: 1,
            rest: Either::Blob { blob: bin(b"q") },
        };
        let args = (&v,).into_args().unwrap();
        assert_eq!(args.values[0], json!({"id": 1, "blob": ph(0)}));
        assert_eq!(args.get::<Outer>(0).unwrap(), v);
    }

    #[test]
    fn args_error_display_and_source() {
        use std::error::Error as _;
        assert_eq!(ArgsError::Missing(3).to_string(), "argument 3 is missing");
        let e = Args::default().get::<u8>(0).unwrap_err();
        assert!(e.source().is_none());
        let e = Args {
            values: vec![json!("x")],
            attachments: vec![],
        }
        .get::<u8>(0)
        .unwrap_err();
        assert!(e.source().is_some());
    }

    proptest! {
        #[test]
        fn prop_binaries_round_trip(
            blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..6),
            label in any::<String>(),
        ) {
            let bins: Vec<Binary> = blobs.iter().cloned().map(Binary::from).collect();
            let args = (label.clone(), bins.clone(), (label.clone(), bins.first().cloned()))
                .into_args()
                .unwrap();
            prop_assert_eq!(args.attachments.len(), bins.len() + usize::from(!bins.is_empty()));
            prop_assert_eq!(args.get::<String>(0).unwrap(), label);
            prop_assert_eq!(args.get::<Vec<Binary>>(1).unwrap(), bins.clone());
            let (_, first) = args.get::<(String, Option<Binary>)>(2).unwrap();
            prop_assert_eq!(first, bins.first().cloned());
            prop_assert!(stacks_empty());
        }

        #[test]
        fn prop_get_never_panics(json in "[\\[\\]{}\",:0-9a-z_ -]{0,40}", n in 0usize..3) {
            if let Ok(v) = serde_json::from_str::<Value>(&json) {
                let args = Args { values: vec![v], attachments: vec![Bytes::new(); n] };
                let _ = args.get::<Binary>(0);
                let _ = args.get::<Vec<Binary>>(0);
                let _ = args.get::<Option<(String, Binary)>>(0);
            }
        }
    }

    #[test]
    fn append_renumbers_the_other_placeholders() {
        let mut all = (bin(b"a"),).into_args().unwrap();
        let other = ("x", vec![bin(b"b"), bin(b"c")]).into_args().unwrap();
        all.append(other);
        assert_eq!(all.values, vec![ph(0), json!("x"), json!([ph(1), ph(2)])]);
        assert_eq!(
            all.attachments,
            vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
                Bytes::from_static(b"c")
            ]
        );
        assert_eq!(
            all.get::<Vec<Binary>>(2).unwrap(),
            vec![bin(b"b"), bin(b"c")]
        );
    }

    #[test]
    fn parse_reads_the_list_as_a_tuple_padding_and_ignoring_like_javascript() {
        let args = ("ann", 3).into_args().unwrap();
        assert_eq!(args.parse::<(String, u8)>().unwrap(), ("ann".to_owned(), 3));
        assert_eq!(
            args.parse::<(String, u8, Option<bool>)>().unwrap(),
            ("ann".to_owned(), 3, None)
        );
        assert_eq!(args.parse::<(String,)>().unwrap(), ("ann".to_owned(),));
        assert_eq!(
            args.parse::<Vec<Value>>().unwrap(),
            vec![json!("ann"), json!(3)]
        );
        args.parse::<()>().unwrap();
        // A missing argument that is not optional is an error naming it.
        let e = args
            .parse::<(String, u8, String)>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("argument 2"), "{e}");
        let e = args.parse::<(u8,)>().unwrap_err().to_string();
        assert!(
            e.contains("argument 0") && e.contains("invalid type"),
            "{e}"
        );
    }

    #[test]
    fn parse_takes_binary_from_the_attachments_anywhere_in_the_list() {
        let args = ("label", vec![bin(b"a"), bin(b"b")]).into_args().unwrap();
        let (label, parts): (String, Vec<Binary>) = args.parse().unwrap();
        assert_eq!(label, "label");
        assert_eq!(parts, vec![bin(b"a"), bin(b"b")]);
        // Outside the call the frame is gone again.
        assert!(serde_json::to_value(bin(b"x")).is_err());
    }
}
