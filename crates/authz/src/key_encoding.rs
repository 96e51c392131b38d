//! The byte encoding of a decision memo key (docs/performance.md#decision-memo): every input of
//! a decision, written so that two different inputs never give the same bytes.
//!
//! The memo used to write its keys as JSON, and escaping every string (a principal carries
//! dozens: its permissions, roles, attributes) was most of the cost of a memoised decision. This
//! encoding writes the same serde data model without escaping: each value starts with a tag
//! byte naming its kind, strings and byte strings carry their length, sequences and maps their
//! number of entries, structs their field names (so a field left out by
//! `skip_serializing_if` cannot be mistaken for the next one), enum variants their index. That
//! makes it self-delimiting like JSON, so equal bytes mean equal inputs. It is never decoded,
//! and never stored beyond the life of the process, so it needs no stable format.

use serde::ser::{self, Serialize};
use std::fmt;

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    value.serialize(&mut KeyWriter { out })
}

/// Serialisation failed: a type's own `Serialize` reported an error (ours never do).
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// The kind of each value, its first byte.
mod tag {
    pub const FALSE: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const INT: u8 = 2;
    pub const UINT: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const CHAR: u8 = 5;
    pub const STR: u8 = 6;
    pub const BYTES: u8 = 7;
    pub const NONE: u8 = 8;
    pub const SOME: u8 = 9;
    pub const UNIT: u8 = 10;
    pub const VARIANT: u8 = 11;
    pub const SEQ: u8 = 12;
    pub const MAP: u8 = 13;
    pub const STRUCT: u8 = 14;
}

struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl KeyWriter<'_> {
    fn bytes(&mut self, tag: u8, bytes: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    fn fixed(&mut self, tag: u8, bytes: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(bytes);
    }

    fn variant(&mut self, index: u32) {
        self.fixed(tag::VARIANT, &index.to_le_bytes());
    }
}

/// A sequence, tuple, map or struct being written: its entries are counted and the count is
/// patched in at the end (serde does not always know it up front).
struct Compound<'a> {
    writer: KeyWriter<'a>,
    count_at: usize,
    count: u64,
}

impl<'a> Compound<'a> {
    fn open(out: &'a mut Vec<u8>, tag: u8) -> Self {
        out.push(tag);
        let count_at = out.len();
        out.extend_from_slice(&0u64.to_le_bytes());
        Self { writer: KeyWriter { out }, count_at, count: 0 }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.count += 1;
        value.serialize(&mut self.writer)
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
        self.writer.bytes(tag::STR, name.as_bytes());
        self.element(value)
    }

    fn finish(self) -> Result<(), Error> {
        self.writer.out[self.count_at..self.count_at + 8].copy_from_slice(&self.count.to_le_bytes());
        Ok(())
    }
}

impl<'a, 'b> ser::Serializer for &'a mut KeyWriter<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    /// Uuids as their 16 bytes rather than their text: cheaper, and just as distinct.
    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { tag::TRUE } else { tag::FALSE });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.serialize_i128(i128::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.fixed(tag::INT, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.serialize_u128(u128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.fixed(tag::UINT, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.fixed(tag::FLOAT, &v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.fixed(tag::CHAR, &u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.bytes(tag::STR, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.bytes(tag::BYTES, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _variant: &'static str) -> Result<(), Error> {
        self.variant(index);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(index);
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.out, tag::SEQ))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.out, tag::SEQ))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.out, tag::SEQ))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(index);
        Ok(Compound::open(self.out, tag::SEQ))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.out, tag::MAP))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.out, tag::STRUCT))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(index);
        Ok(Compound::open(self.out, tag::STRUCT))
    }
}

/// The compound traits, each by [`Compound::element`] / [`Compound::field`] and [`Compound::finish`].
macro_rules! compound_impls {
    ($($trait:ident :: $method:ident),+ $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )+};
}
compound_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

macro_rules! struct_impls {
    ($($trait:ident),+ $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
                self.field(name, value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )+};
}
struct_impls!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut self.writer)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, &mut out).expect("encodes");
        out
    }

    /// Values that JSON keeps apart stay apart: the kinds, the boundaries between strings and
    /// sequence elements, and fields left out.
    #[test]
    fn different_values_never_share_an_encoding() {
        let values = [
            json!(1),
            json!(-1),
            json!(1.0),
            json!("1"),
            json!(true),
            json!(null),
            json!([]),
            json!({}),
            json!(["ab", "c"]),
            json!(["a", "bc"]),
            json!(["abc"]),
            json!([["a"], "b"]),
            json!([["a", "b"]]),
            json!({"a": "b"}),
            json!({"a": ["b"]}),
            json!({"ab": ""}),
            json!({"a": "", "b": ""}),
        ];
        let encoded: Vec<Vec<u8>> = values.iter().map(bytes).collect();
        for (i, a) in encoded.iter().enumerate() {
            for (j, b) in encoded.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{} and {} share an encoding", values[i], values[j]);
            }
        }
        #[derive(serde::Serialize)]
        struct Skipping {
            #[serde(skip_serializing_if = "Option::is_none")]
            first: Option<String>,
            second: String,
        }
        let left_out = Skipping { first: None, second: "x".into() };
        let present = Skipping { first: Some("x".into()), second: String::new() };
        assert_ne!(bytes(&left_out), bytes(&present));
        // Equal values give equal bytes: the encoding is a function of the value.
        assert_eq!(bytes(&json!({"a": [1, "b"]})), bytes(&json!({"a": [1, "b"]})));
    }
}
