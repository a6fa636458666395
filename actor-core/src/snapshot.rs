//! The stored form of an actor: a short binary header followed by the state as CBOR.
//!
//! ```text
//! offset  size  field
//! 0       1     format version (currently 1)
//! 1       16    actor id (uuid, big-endian bytes)
//! 17      4     state version (u32, little-endian; `Actor::STATE_VERSION`)
//! 21      ..    the state, CBOR (RFC 8949) as written by ciborium
//! ```
//!
//! `docs/storage-format.md` is the user-facing description of the same layout.

use std::cell::Cell;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::depth::{Limited, MAX_DEPTH};
use crate::error::{DecodeError, EncodeError};
use crate::panic::catch;

/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes before the CBOR payload: the format byte, the actor id, the state version.
pub const RECORD_HEADER_LEN: usize = 1 + 16 + 4;

pub(crate) const HEADER_LEN: usize = RECORD_HEADER_LEN;

/// Encodes `value` as CBOR, the way the runtime stores states and actions: within
/// [`MAX_DEPTH`](crate::MAX_DEPTH), with a panic in its `Serialize` caught. For hand-written
/// [`Actor::encode_action`](crate::Actor::encode_action) implementations.
pub fn encode_cbor<S: Serialize + ?Sized>(value: &S) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    write_cbor(&mut out, value)?;
    Ok(out)
}

/// Encodes `value` as CBOR onto the end of `buf`, within [`MAX_DEPTH`] and with a panic in
/// its `Serialize` caught.
pub(crate) fn write_cbor<S: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    value: &S,
) -> Result<(), EncodeError> {
    let exceeded = Cell::new(false);
    match catch(|| ciborium::into_writer(&Limited::new(value, &exceeded), &mut *buf)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) if exceeded.get() => Err(EncodeError::TooDeep { limit: MAX_DEPTH }),
        Ok(Err(error)) => Err(EncodeError::Cbor(error)),
        Err(message) => Err(EncodeError::Panicked { message }),
    }
}

/// Decodes CBOR (as [`encode_cbor`] writes it), with a panic in the type's `Deserialize`
/// caught. For hand-written [`Actor::decode_action`](crate::Actor::decode_action)
/// implementations.
pub fn decode_cbor<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    catch(|| ciborium::from_reader(payload))
        .map_err(|message| DecodeError::Panicked { message })?
        .map_err(DecodeError::from)
}

/// Encodes `state` into `buf` (cleared first) as a full record.
pub(crate) fn encode<S: Serialize>(
    buf: &mut Vec<u8>,
    id: Uuid,
    state_version: u32,
    state: &S,
) -> Result<(), EncodeError> {
    buf.clear();
    buf.push(FORMAT_VERSION);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(&state_version.to_le_bytes());
    write_cbor(buf, state)
}

/// The header of a record, read without touching the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) id: Uuid,
    pub(crate) state_version: u32,
}

/// Reads and checks a record's header.
pub(crate) fn header(record: &[u8]) -> Result<Header, DecodeError> {
    let Some(&format) = record.first() else {
        return Err(DecodeError::Truncated { len: 0 });
    };
    if format != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedFormat {
            found: format,
            supported: FORMAT_VERSION,
        });
    }
    let (Some(id), Some(version)) = (record.get(1..17), record.get(17..HEADER_LEN)) else {
        return Err(DecodeError::Truncated { len: record.len() });
    };
    let id = Uuid::from_slice(id).map_err(|_| DecodeError::Truncated { len: record.len() })?;
    let mut v = [0u8; 4];
    v.copy_from_slice(version);
    Ok(Header {
        id,
        state_version: u32::from_le_bytes(v),
    })
}

/// A stored state of another [`STATE_VERSION`](crate::Actor::STATE_VERSION), handed to
/// [`Actor::migrate`](crate::Actor::migrate).
#[derive(Debug, Clone, Copy)]
pub struct StoredState<'a> {
    version: u32,
    expected: u32,
    payload: &'a [u8],
}

impl StoredState<'_> {
    /// The state version the record was written with.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Decodes the stored state into `T`, the shape it had in that version.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        decode_cbor(self.payload)
    }

    /// The error that refuses this version: [`DecodeError::StateVersion`].
    pub fn unsupported(&self) -> DecodeError {
        DecodeError::StateVersion {
            found: self.version,
            expected: self.expected,
        }
    }
}

/// Decodes a record into its header and a state of `expected` version, handing a record of
/// another version to `migrate` (an actor's `Actor::migrate`), with its panics caught.
pub(crate) fn decode_state<S: DeserializeOwned>(
    record: &[u8],
    expected: u32,
    migrate: impl FnOnce(StoredState<'_>) -> Result<S, DecodeError>,
) -> Result<(Header, S), DecodeError> {
    let header = header(record)?;
    let payload = record.get(HEADER_LEN..).unwrap_or_default();
    if header.state_version == expected {
        return Ok((header, decode_cbor(payload)?));
    }
    let stored = StoredState {
        version: header.state_version,
        expected,
        payload,
    };
    let state =
        catch(|| migrate(stored)).map_err(|message| DecodeError::Panicked { message })??;
    Ok((header, state))
}

/// One stored actor record, read without the actor's Rust type: for tools that read a
/// database file (see `docs/storage-format.md`).
///
/// ```
/// # let id = uuid::Uuid::nil();
/// # let mut bytes = vec![actor_core::FORMAT_VERSION];
/// # bytes.extend_from_slice(id.as_bytes());
/// # bytes.extend_from_slice(&1u32.to_le_bytes());
/// # ciborium::into_writer(&std::collections::BTreeMap::from([("count", 3)]), &mut bytes)?;
/// use actor_core::Record;
///
/// // `bytes` as `Storage::load` returns them.
/// let record = Record::parse(&bytes)?;
/// assert_eq!(record.state_version(), 1);
/// let state: ciborium::Value = record.decode()?; // any serde type; `Value` needs none
/// assert_eq!(state.as_map().map(Vec::len), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    header: Header,
    payload: &'a [u8],
}

impl<'a> Record<'a> {
    /// Reads a record's header ([`RECORD_HEADER_LEN`] bytes) and keeps the payload for
    /// [`decode`](Record::decode). Fails on a record that is too short or of another format.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let header = header(bytes)?;
        let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
        Ok(Self { header, payload })
    }

    /// The actor's id, assigned when it was created.
    pub fn id(&self) -> Uuid {
        self.header.id
    }

    /// The state version the record was written with (`Actor::STATE_VERSION`).
    pub fn state_version(&self) -> u32 {
        self.header.state_version
    }

    /// The state as CBOR (RFC 8949): everything after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Decodes the state into `T`: the actor's own type, a type of the same shape, or a
    /// generic value such as `ciborium::Value`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        decode_cbor(self.payload)
    }
}

/// Decodes a whole record into its header and any deserializable state, checking the state
/// version (the unit tests' view of the format; actors go through `Actor`'s `decode`).
#[cfg(test)]
pub(crate) fn decode<S: DeserializeOwned>(
    record: &[u8],
    expected_state_version: u32,
) -> Result<(Header, S), DecodeError> {
    let header = header(record)?;
    if header.state_version != expected_state_version {
        return Err(DecodeError::StateVersion {
            found: header.state_version,
            expected: expected_state_version,
        });
    }
    let payload = record.get(HEADER_LEN..).unwrap_or_default();
    let state = ciborium::from_reader(payload).map_err(DecodeError::from)?;
    Ok((header, state))
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, header};
    use crate::error::DecodeError;
    use uuid::Uuid;

    #[test]
    fn round_trip() {
        let id = Uuid::new_v4();
        let mut buf = Vec::new();
        encode(&mut buf, id, 3, &(1u8, "x".to_string())).unwrap();
        let (h, state): (_, (u8, String)) = decode(&buf, 3).unwrap();
        assert_eq!(h.id, id);
        assert_eq!(state, (1, "x".to_string()));
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(
            header(&[]),
            Err(DecodeError::Truncated { len: 0 })
        ));
        assert!(matches!(
            header(&[9, 0, 0]),
            Err(DecodeError::UnsupportedFormat { found: 9, .. })
        ));
        assert!(matches!(
            header(&[1, 0, 0]),
            Err(DecodeError::Truncated { len: 3 })
        ));
        let mut buf = Vec::new();
        encode(&mut buf, Uuid::nil(), 1, &5u32).unwrap();
        assert!(matches!(
            decode::<u32>(&buf, 2),
            Err(DecodeError::StateVersion {
                found: 1,
                expected: 2
            })
        ));
        buf.truncate(buf.len() - 1);
        buf.push(0xff);
        assert!(matches!(decode::<u32>(&buf, 1), Err(DecodeError::Cbor(_))));
    }
}
