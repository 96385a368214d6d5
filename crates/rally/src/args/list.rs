//! The whole argument list as one typed value: `(room, msg): (String, String)`.
//!
//! A JavaScript listener names its parameters and reads `undefined` for those the
//! sender left out, ignoring any extra. A Rust tuple is the closest shape, so a tuple
//! (or tuple struct) reads the arguments in order, a missing trailing one reads as
//! `null` (an `Option` then reads `None`) and extra ones are ignored. A sequence
//! (`Vec<T>`) takes every argument, and `()` accepts any list. Errors name the
//! argument, counting from 0 as [`Args::get`](super::Args::get) does.

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Value};

/// What a left-out argument reads as.
static MISSING: Value = Value::Null;

/// Deserializes an argument list.
pub(super) struct ArgList<'a>(pub(super) &'a [Value]);

impl<'de> de::Deserializer<'de> for ArgList<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let len = self.0.len();
        visitor.visit_seq(Items {
            values: self.0,
            next: 0,
            len,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Items {
            values: self.0,
            next: 0,
            len,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option newtype_struct seq map struct enum identifier
    }
}

/// The arguments handed out one by one, `null` past the end of the list.
struct Items<'a> {
    values: &'a [Value],
    next: usize,
    len: usize,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.next >= self.len {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let value = self.values.get(i).unwrap_or(&MISSING);
        seed.deserialize(value)
            .map(Some)
            .map_err(|e| de::Error::custom(format_args!("argument {i}: {e}")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.next)
    }
}
