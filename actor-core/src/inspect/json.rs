//! Stored CBOR as generic JSON, for reading a state without its Rust type.
//!
//! JSON has no bytes, no tags, no integers beyond 64 bits, no non-finite floats and only
//! string keys, so those take documented shapes (see [`cbor_to_json`]).

use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value as Json};

/// The JSON form of a CBOR value, losing nothing a reader needs:
///
/// - integers that fit in 64 bits are numbers; larger ones (and bignums, tags 2 and 3) are
///   exact decimal strings: `"340282366920938463463374607431768211456"`;
/// - floats are numbers; NaN and the infinities are the strings `"NaN"`, `"Infinity"`,
///   `"-Infinity"`;
/// - bytes are `{"$bytes": "<lowercase hex>"}`;
/// - other tags are `{"$tag": <number>, "value": <the tagged value>}`;
/// - a map whose keys are all text is an object (a repeated key keeps its last value); any
///   other map is `{"$map": [[<key>, <value>], ...]}`, in stored order;
/// - text, booleans, null and arrays are themselves.
pub fn cbor_to_json(value: &Cbor) -> Json {
    match value {
        Cbor::Integer(int) => {
            let int = i128::from(*int);
            if let Ok(small) = i64::try_from(int) {
                Json::from(small)
            } else if let Ok(small) = u64::try_from(int) {
                Json::from(small)
            } else {
                Json::String(int.to_string())
            }
        }
        Cbor::Float(float) => Number::from_f64(*float).map_or_else(
            || {
                Json::String(
                    if float.is_nan() {
                        "NaN"
                    } else if *float > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    }
                    .to_owned(),
                )
            },
            Json::Number,
        ),
        Cbor::Text(text) => Json::String(text.clone()),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Null => Json::Null,
        Cbor::Bytes(bytes) => tagged("$bytes", Json::String(hex(bytes))),
        Cbor::Tag(2, inner) if matches!(**inner, Cbor::Bytes(_)) => match &**inner {
            Cbor::Bytes(bytes) => Json::String(decimal(bytes)),
            _ => Json::Null,
        },
        Cbor::Tag(3, inner) if matches!(**inner, Cbor::Bytes(_)) => match &**inner {
            // Tag 3 holds n for the integer -1 - n.
            Cbor::Bytes(bytes) => Json::String(format!("-{}", decimal(&plus_one(bytes)))),
            _ => Json::Null,
        },
        Cbor::Tag(tag, inner) => {
            let mut object = Map::new();
            object.insert("$tag".to_owned(), Json::from(*tag));
            object.insert("value".to_owned(), cbor_to_json(inner));
            Json::Object(object)
        }
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Cbor::Map(entries) => {
            if entries.iter().all(|(key, _)| matches!(key, Cbor::Text(_))) {
                let mut object = Map::new();
                for (key, value) in entries {
                    if let Cbor::Text(key) = key {
                        object.insert(key.clone(), cbor_to_json(value));
                    }
                }
                Json::Object(object)
            } else {
                let pairs = entries
                    .iter()
                    .map(|(key, value)| Json::Array(vec![cbor_to_json(key), cbor_to_json(value)]))
                    .collect();
                tagged("$map", Json::Array(pairs))
            }
        }
        // `ciborium::Value` is non-exhaustive; a variant it adds later is shown by its debug
        // form rather than dropped.
        other => tagged("$cbor", Json::String(format!("{other:?}"))),
    }
}

/// `{name: value}`.
fn tagged(name: &str, value: Json) -> Json {
    let mut object = Map::new();
    object.insert(name.to_owned(), value);
    Json::Object(object)
}

/// Lowercase hex, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The unsigned big-endian integer `bytes` in decimal (schoolbook division by 10).
fn decimal(bytes: &[u8]) -> String {
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder = 0u16;
        for byte in &mut number {
            let current = (remainder << 8) | u16::from(*byte);
            // current < 10 * 256, so the quotient fits a byte.
            *byte = u8::try_from(current / 10).unwrap_or(u8::MAX);
            remainder = current % 10;
        }
        digits.push(b'0' + u8::try_from(remainder).unwrap_or(0));
        let zeros = number.iter().take_while(|b| **b == 0).count();
        number.drain(..zeros);
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.iter().rev().map(|d| char::from(*d)).collect()
}

/// The big-endian integer `bytes` plus one (one byte longer if it carries out).
fn plus_one(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            return out;
        }
    }
    out.insert(0, 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bignums_are_exact_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0, 1, 0]), "256");
        let two_to_128 = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            decimal(&two_to_128),
            "340282366920938463463374607431768211456"
        );
        assert_eq!(plus_one(&[0xff, 0xff]), vec![1, 0, 0]);
        let big = Cbor::Tag(3, Box::new(Cbor::Bytes(two_to_128.to_vec())));
        assert_eq!(
            cbor_to_json(&big),
            Json::String("-340282366920938463463374607431768211457".into())
        );
    }

    #[test]
    fn shapes_for_what_json_lacks() {
        let value = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Bytes(vec![0xde, 0xad])),
            (Cbor::Text("x".into()), Cbor::Float(f64::NAN)),
        ]);
        assert_eq!(
            cbor_to_json(&value),
            serde_json::json!({"$map": [[1, {"$bytes": "dead"}], ["x", "NaN"]]})
        );
        let tagged = Cbor::Tag(1, Box::new(Cbor::Integer(u64::MAX.into())));
        assert_eq!(
            cbor_to_json(&tagged),
            serde_json::json!({"$tag": 1, "value": u64::MAX})
        );
    }
}
