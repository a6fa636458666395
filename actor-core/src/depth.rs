//! The nesting limit on everything the runtime encodes: states, replies sent by name, and
//! JSON arguments.
//!
//! The CBOR decoder refuses values nested deeper than 256 levels (each array, map, tag and
//! enum is a level), and serde's encoders recurse once per level with no limit, so a deep
//! enough value overflows the stack of whatever thread encodes it. Both are closed here: a
//! value goes through [`Limited`], which counts levels as the decoder will and fails with
//! [`EncodeError::TooDeep`](crate::EncodeError::TooDeep) past [`MAX_DEPTH`], before any deeper
//! recursion. Every record written can therefore be read back, and no value, however deep,
//! can take a thread down.

use std::cell::Cell;
use std::fmt::Display;

use serde::ser::{
    self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

pub(crate) use crate::limits::MAX_DEPTH;

/// `value`, serialized with its nesting counted; `exceeded` is set when it goes past
/// [`MAX_DEPTH`], so the caller can tell that error from the encoder's own.
pub(crate) struct Limited<'a, T: ?Sized> {
    value: &'a T,
    depth: usize,
    exceeded: &'a Cell<bool>,
}

impl<'a, T: ?Sized> Limited<'a, T> {
    pub(crate) fn new(value: &'a T, exceeded: &'a Cell<bool>) -> Self {
        Self {
            value,
            depth: 0,
            exceeded,
        }
    }
}

impl<T: Serialize + ?Sized> Serialize for Limited<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Counting {
            inner: serializer,
            depth: self.depth,
            exceeded: self.exceeded,
        })
    }
}

/// A serializer that forwards to `inner` and counts how deep it is.
struct Counting<'a, S> {
    inner: S,
    depth: usize,
    exceeded: &'a Cell<bool>,
}

impl<'a, S: Serializer> Counting<'a, S> {
    /// The depth after opening `levels` more, or the error if that is too deep.
    fn open(&self, levels: usize) -> Result<usize, S::Error> {
        let depth = self.depth + levels;
        if depth > MAX_DEPTH {
            self.exceeded.set(true);
            return Err(ser::Error::custom(format_args!(
                "the value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(depth)
    }

    fn child<'v, T: ?Sized>(&self, value: &'v T, depth: usize) -> Limited<'v, T>
    where
        'a: 'v,
    {
        Limited {
            value,
            depth,
            exceeded: self.exceeded,
        }
    }
}

/// A sequence, map, tuple or struct being serialized one level down.
struct Compound<'a, C> {
    inner: C,
    depth: usize,
    exceeded: &'a Cell<bool>,
}

impl<C> Compound<'_, C> {
    fn child<'v, T: ?Sized>(&self, value: &'v T) -> Limited<'v, T>
    where
        Self: 'v,
    {
        Limited {
            value,
            depth: self.depth,
            exceeded: self.exceeded,
        }
    }
}

macro_rules! forward_scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'a, S: Serializer> Serializer for Counting<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'a, S::SerializeSeq>;
    type SerializeTuple = Compound<'a, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'a, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'a, S::SerializeMap>;
    type SerializeStruct = Compound<'a, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'a, S::SerializeStructVariant>;

    forward_scalars! {
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        let child = self.child(value, self.depth);
        self.inner.serialize_some(&child)
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.open(1)?;
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let child = self.child(value, self.depth);
        self.inner.serialize_newtype_struct(name, &child)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let depth = self.open(1)?;
        let child = self.child(value, depth);
        self.inner
            .serialize_newtype_variant(name, index, variant, &child)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        let depth = self.open(1)?;
        let inner = self.inner.serialize_seq(len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded: self.exceeded,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        let depth = self.open(1)?;
        let exceeded = self.exceeded;
        let inner = self.inner.serialize_tuple(len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        let depth = self.open(1)?;
        let exceeded = self.exceeded;
        let inner = self.inner.serialize_tuple_struct(name, len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let depth = self.open(2)?;
        let exceeded = self.exceeded;
        let inner = self
            .inner
            .serialize_tuple_variant(name, index, variant, len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let depth = self.open(1)?;
        let exceeded = self.exceeded;
        let inner = self.inner.serialize_map(len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let depth = self.open(1)?;
        let exceeded = self.exceeded;
        let inner = self.inner.serialize_struct(name, len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let depth = self.open(2)?;
        let exceeded = self.exceeded;
        let inner = self
            .inner
            .serialize_struct_variant(name, index, variant, len)?;
        Ok(Compound {
            inner,
            depth,
            exceeded,
        })
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The compound serializers: each element or field goes through [`Limited`] one level down.
macro_rules! compound {
    ($($trait:ident: $method:ident),* $(,)?) => {
        $(
            impl<C: $trait> $trait for Compound<'_, C> {
                type Ok = C::Ok;
                type Error = C::Error;

                fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                    let child = self.child(value);
                    self.inner.$method(&child)
                }

                fn end(self) -> Result<C::Ok, C::Error> {
                    self.inner.end()
                }
            }
        )*
    };
    ($($trait:ident),* $(,)?; fields) => {
        $(
            impl<C: $trait> $trait for Compound<'_, C> {
                type Ok = C::Ok;
                type Error = C::Error;

                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    key: &'static str,
                    value: &T,
                ) -> Result<(), C::Error> {
                    let child = self.child(value);
                    self.inner.serialize_field(key, &child)
                }

                fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                    self.inner.skip_field(key)
                }

                fn end(self) -> Result<C::Ok, C::Error> {
                    self.inner.end()
                }
            }
        )*
    };
}

compound! {
    SerializeSeq: serialize_element,
    SerializeTuple: serialize_element,
    SerializeTupleStruct: serialize_field,
    SerializeTupleVariant: serialize_field,
}

compound! { SerializeStruct, SerializeStructVariant; fields }

impl<C: SerializeMap> SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        let child = self.child(key);
        self.inner.serialize_key(&child)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let child = self.child(value);
        self.inner.serialize_value(&child)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

/// True if a JSON value nests deeper than [`MAX_DEPTH`]. Walks it without recursion, so any
/// depth is safe to check.
pub(crate) fn json_too_deep(value: &serde_json::Value) -> bool {
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > MAX_DEPTH {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// Drops a JSON value of any depth without recursion (the default drop recurses once per
/// level, so a value deep enough to be refused could overflow the stack when freed).
pub(crate) fn drop_json(value: serde_json::Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde::{Deserialize, Serialize};

    use super::{Limited, MAX_DEPTH, drop_json, json_too_deep};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Leaf,
        Newtype(Box<Shape>),
        Tuple(Box<Shape>, u8),
        Struct { inner: Box<Shape> },
        List(Vec<Shape>),
        Map(std::collections::BTreeMap<String, Shape>),
        Maybe(Option<Box<Shape>>),
    }

    /// A value exactly `levels` deep (as `Limited` counts), wrapping every shape in turn.
    fn build(levels: usize) -> Shape {
        let mut shape = Shape::Leaf;
        let mut used = 1; // the unit variant
        let mut turn = 0;
        while used < levels {
            let left = levels - used;
            let (next, cost) = match turn % 6 {
                _ if left == 1 => (Shape::Newtype(Box::new(shape)), 1),
                0 => (Shape::Newtype(Box::new(shape)), 1),
                1 => (Shape::Tuple(Box::new(shape), 7), 2),
                2 => (
                    Shape::Struct {
                        inner: Box::new(shape),
                    },
                    2,
                ),
                3 => (Shape::List(vec![shape]), 2),
                4 => (Shape::Map([("k".to_owned(), shape)].into()), 2),
                _ => (Shape::Maybe(Some(Box::new(shape))), 1),
            };
            shape = next;
            used += cost;
            turn += 1;
        }
        shape
    }

    fn encode(value: &impl Serialize) -> Result<Vec<u8>, bool> {
        let exceeded = Cell::new(false);
        let mut out = Vec::new();
        ciborium::into_writer(&Limited::new(value, &exceeded), &mut out)
            .map_err(|_| exceeded.get())?;
        Ok(out)
    }

    #[test]
    fn everything_at_the_limit_encodes_and_decodes() {
        for levels in [1, 2, 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH] {
            let shape = build(levels);
            let bytes = encode(&shape).expect("within the limit");
            let back: Shape = ciborium::from_reader(&bytes[..]).expect("decodes");
            assert_eq!(back, shape);
            // The count is an upper bound on the decoder's: it decodes with a recursion
            // limit of MAX_DEPTH, half the limit reads use.
            let tight: Shape =
                ciborium::de::from_reader_with_recursion_limit(&bytes[..], MAX_DEPTH).unwrap();
            assert_eq!(tight, shape);
            // The plain encoder writes the very same bytes.
            let mut plain = Vec::new();
            ciborium::into_writer(&shape, &mut plain).unwrap();
            assert_eq!(plain, bytes);
        }
    }

    #[test]
    fn past_the_limit_is_refused_and_says_so() {
        let mut value = serde_json::Value::Null;
        for _ in 0..=MAX_DEPTH {
            value = serde_json::Value::Array(vec![value]);
        }
        assert_eq!(encode(&value), Err(true));
        assert!(json_too_deep(&value));
        assert_eq!(encode(&build(MAX_DEPTH + 1)), Err(true));
        let serde_json::Value::Array(mut inner) = value else {
            unreachable!()
        };
        let inner = inner.pop().unwrap();
        assert!(encode(&inner).is_ok());
        assert!(!json_too_deep(&inner));
        // Far deeper than any stack: refused at the limit, freed without recursion.
        let mut deep = serde_json::Value::Null;
        for _ in 0..1_000_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        assert_eq!(encode(&deep), Err(true));
        assert!(json_too_deep(&deep));
        drop_json(deep);
    }
}
