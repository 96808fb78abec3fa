//! One visitor for the values a scenario may write in several shapes
//! (`close: 1000` or `close: { code: 1000 }`, `mask: false` or
//! `mask: "37fa213d"`).
//!
//! serde's untagged enums would read these too, but answer every mistake
//! with "data did not match any variant"; the format promises a message
//! that says what is wrong. So each such type lists the shapes it accepts,
//! with a function for each, and [`Shapes`] looks at the YAML value's shape
//! first. A shape that is not listed gets serde's own "invalid type: …,
//! expected …" with the type's `expecting` text, exactly as a hand-written
//! visitor without that method would.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Unexpected, Visitor};

/// How a value of one shape becomes a `T`, or the message that says why it
/// cannot.
pub(super) type Reader<I, T> = fn(I) -> Result<T, String>;
/// How a text becomes a `T`, or the message that says why it cannot.
pub(super) type TextReader<T> = fn(&str) -> Result<T, String>;

/// The shapes a value of type `T` may take, and how each becomes a `T` (or
/// the message that says why it cannot). A map is first read as the
/// derived struct `M`, a list as `L`: their own errors (unknown fields, bad
/// values) keep their place in the file.
pub(super) struct Shapes<T, M = (), L = ()> {
    /// What the value should be, for "invalid type: …, expected …".
    pub expecting: &'static str,
    /// A text.
    pub text: Option<TextReader<T>>,
    /// A non-negative whole number.
    pub number: Option<Reader<u64, T>>,
    /// `true` or `false`.
    pub boolean: Option<Reader<bool, T>>,
    /// No value at all (`key:` or `null`).
    pub nothing: Option<fn() -> T>,
    /// A map, read as `M`.
    pub map: Option<Reader<M, T>>,
    /// A list, read as `L`.
    pub list: Option<Reader<L, T>>,
    /// `M` and `L` are only read, never stored.
    pub read_as: PhantomData<(M, L)>,
}

impl<T, M, L> Shapes<T, M, L> {
    /// No shape accepted yet: the base the types fill in.
    pub const NONE: Shapes<T, M, L> = Shapes {
        expecting: "",
        text: None,
        number: None,
        boolean: None,
        nothing: None,
        map: None,
        list: None,
        read_as: PhantomData,
    };
}

impl<'de, T, M: Deserialize<'de>, L: Deserialize<'de>> Visitor<'de> for Shapes<T, M, L> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        match self.text {
            Some(read) => read(v).map_err(E::custom),
            None => Err(E::invalid_type(Unexpected::Str(v), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        match self.number {
            Some(read) => read(v).map_err(E::custom),
            None => Err(E::invalid_type(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        match self.boolean {
            Some(read) => read(v).map_err(E::custom),
            None => Err(E::invalid_type(Unexpected::Bool(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        match self.nothing {
            Some(read) => Ok(read()),
            None => Err(E::invalid_type(Unexpected::Unit, &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        match self.map {
            Some(read) => read(M::deserialize(de::value::MapAccessDeserializer::new(map))?)
                .map_err(de::Error::custom),
            None => Err(de::Error::invalid_type(Unexpected::Map, &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        match self.list {
            Some(read) => read(L::deserialize(de::value::SeqAccessDeserializer::new(seq))?)
                .map_err(de::Error::custom),
            None => Err(de::Error::invalid_type(Unexpected::Seq, &self)),
        }
    }
}
