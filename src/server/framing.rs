//! Proto framing: the 8-byte header (version, type, 48-bit length) in front of every message,
//! reading a whole frame off a socket with a size limit (the body buffer grows as bytes arrive,
//! charged to the server's memory budget, and a frame that stops arriving is given up), and
//! inflating compressed (type 4) requests into the plain AS_MSG they carry.

use std::io::Read;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::budget::{Charge, OverBudget};

pub const PROTO_VERSION: u8 = 2;
pub const HEADER_LEN: usize = 8;

/// Message types of the proto header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Info = 1,
    Admin = 2,
    Message = 3,
    Compressed = 4,
}

impl MsgType {
    fn from_byte(b: u8) -> Option<MsgType> {
        match b {
            1 => Some(MsgType::Info),
            2 => Some(MsgType::Admin),
            3 => Some(MsgType::Message),
            4 => Some(MsgType::Compressed),
            _ => None,
        }
    }
}

/// Why a frame could not be read. Every variant ends the connection it happened on.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("peer closed the connection")]
    Closed,
    #[error("bad proto version {0} (expected 2)")]
    BadVersion(u8),
    #[error("unknown message type {0}")]
    BadType(u8),
    #[error("frame length {len} exceeds the limit of {limit} bytes")]
    TooLong { len: u64, limit: usize },
    #[error("connection closed in the middle of a frame ({got} of {want} bytes)")]
    Truncated { got: usize, want: usize },
    #[error("no byte for {after:?} in the middle of a frame ({got} of {want} bytes)")]
    Stalled { got: usize, want: usize, after: Duration },
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a connection may send: the largest frame, and how long a started frame may pause.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    pub max_frame: usize,
    /// Longest wait for the next byte once a frame has begun; `None` waits for ever.
    pub stall: Option<Duration>,
}

/// The body buffer grows in steps of at least this much (and at most doubling), never past
/// the bytes the frame still declares.
const GROW_MIN: usize = 16 * 1024;

/// Why a compressed (type 4) body could not be turned into a plain message.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InflateError {
    #[error("compressed body shorter than its 8-byte length prefix")]
    Short,
    #[error("declared uncompressed size {0} exceeds the limit")]
    TooLong(u64),
    #[error("zlib stream is corrupt")]
    Corrupt,
    #[error("inflated {got} bytes, header declared {want}")]
    SizeMismatch { got: usize, want: u64 },
    #[error("inflated message is not a version 2, type 3 frame of the declared length")]
    BadInner,
}

/// Parses an 8-byte proto header into (type, body length).
pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<(MsgType, u64), FrameError> {
    if h[0] != PROTO_VERSION {
        return Err(FrameError::BadVersion(h[0]));
    }
    let kind = MsgType::from_byte(h[1]).ok_or(FrameError::BadType(h[1]))?;
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
    Ok((kind, len))
}

/// Appends an 8-byte proto header for a body of `len` bytes.
pub fn put_header(out: &mut BytesMut, kind: MsgType, len: usize) {
    let len = len as u64;
    out.put_u8(PROTO_VERSION);
    out.put_u8(kind as u8);
    out.put_slice(&len.to_be_bytes()[2..]);
}

/// Overwrites the header at `out[start..start+8]` once the body that follows it is complete.
pub fn patch_header(out: &mut [u8], start: usize, kind: MsgType) {
    let len = (out.len() - start - HEADER_LEN) as u64;
    out[start] = PROTO_VERSION;
    out[start + 1] = kind as u8;
    out[start + 2..start + 8].copy_from_slice(&len.to_be_bytes()[2..]);
}

/// One read, given up after `stall` when set.
async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    stall: Option<Duration>,
    got: usize,
    want: usize,
) -> Result<usize, FrameError> {
    match stall {
        None => Ok(reader.read(buf).await?),
        Some(after) => match tokio::time::timeout(after, reader.read(buf)).await {
            Ok(n) => Ok(n?),
            Err(_) => Err(FrameError::Stalled { got, want, after }),
        },
    }
}

/// Reads one frame: returns its type, with the body in `body` (cleared first). The length is
/// checked against the limit before anything is allocated for it, and the buffer grows only as
/// the body arrives, each step charged to `charge` first: a peer that declares a large frame
/// and then sends slowly (or nothing) pins only what it has sent.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    body: &mut BytesMut,
    limits: FrameLimits,
    charge: &mut Charge,
) -> Result<MsgType, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    // Between frames a connection may idle for ever; once a frame has begun it must keep coming.
    let mut got = reader.read(&mut header).await?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    while got < HEADER_LEN {
        let n = read_some(reader, &mut header[got..], limits.stall, got, HEADER_LEN).await?;
        if n == 0 {
            return Err(FrameError::Truncated { got, want: HEADER_LEN });
        }
        got += n;
    }
    let (kind, len) = parse_header(&header)?;
    if len > limits.max_frame as u64 {
        return Err(FrameError::TooLong { len, limit: limits.max_frame });
    }
    let len = len as usize;
    body.clear();
    while body.len() < len {
        let want = len - body.len();
        if body.capacity() == body.len() {
            let step = want.min(body.capacity().max(GROW_MIN));
            charge.cover(body.len() + step)?;
            body.reserve(step);
            charge.cover(body.capacity())?;
        }
        // Read straight into the spare capacity, never more than the frame asks for.
        let mut limited = (&mut *reader).take(want as u64);
        let read = limited.read_buf(body);
        let n = match limits.stall {
            None => read.await?,
            Some(after) => match tokio::time::timeout(after, read).await {
                Ok(n) => n?,
                Err(_) => return Err(FrameError::Stalled { got: body.len(), want: len, after }),
            },
        };
        if n == 0 {
            return Err(FrameError::Truncated { got: body.len(), want: len });
        }
    }
    Ok(kind)
}

/// Inflates a type-4 body (u64 inner length, then zlib) and returns the inner AS_MSG body,
/// without its proto header.
pub fn inflate(body: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    if body.len() < 8 {
        return Err(InflateError::Short);
    }
    let declared = u64::from_be_bytes(body[..8].try_into().map_err(|_| InflateError::Short)?);
    if declared > limit as u64 || declared < HEADER_LEN as u64 {
        return Err(InflateError::TooLong(declared));
    }
    // Grow as the stream inflates: a small frame that merely claims a huge size costs nothing.
    let mut out = Vec::with_capacity((declared as usize).min(1 << 20));
    // Read at most one byte past the declared size so an over-long stream is detected
    // without inflating a bomb.
    flate2::read::ZlibDecoder::new(&body[8..])
        .take(declared + 1)
        .read_to_end(&mut out)
        .map_err(|_| InflateError::Corrupt)?;
    if out.len() as u64 != declared {
        return Err(InflateError::SizeMismatch { got: out.len(), want: declared });
    }
    let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().map_err(|_| InflateError::BadInner)?;
    match parse_header(&header) {
        Ok((MsgType::Message, len)) if len == declared - HEADER_LEN as u64 => {
            out.drain(..HEADER_LEN);
            Ok(out)
        }
        _ => Err(InflateError::BadInner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn header_round_trip() {
        let mut out = BytesMut::new();
        put_header(&mut out, MsgType::Info, 0x0102_0304_0506);
        let h: [u8; 8] = out[..].try_into().unwrap();
        assert_eq!(h, [2, 1, 1, 2, 3, 4, 5, 6]);
        assert_eq!(parse_header(&h).unwrap(), (MsgType::Info, 0x0102_0304_0506));
    }

    #[test]
    fn header_rejects_bad_version_and_type() {
        assert!(matches!(parse_header(&[3, 1, 0, 0, 0, 0, 0, 0]), Err(FrameError::BadVersion(3))));
        assert!(matches!(parse_header(&[2, 9, 0, 0, 0, 0, 0, 0]), Err(FrameError::BadType(9))));
    }

    fn limits(max_frame: usize) -> FrameLimits {
        FrameLimits { max_frame, stall: None }
    }

    #[tokio::test]
    async fn read_frame_limits_and_truncation() {
        let mut buf = BytesMut::new();
        let c = &mut Charge::unlimited();
        let data = [2u8, 3, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
        assert_eq!(read_frame(&mut &data[..], &mut buf, limits(100), c).await.unwrap(), MsgType::Message);
        assert_eq!(&buf[..], &[1, 2, 3, 4]);
        let err = read_frame(&mut &data[..], &mut buf, limits(3), c).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLong { len: 4, limit: 3 }));
        let err = read_frame(&mut &data[..10], &mut buf, limits(100), c).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { got: 2, want: 4 }));
        let err = read_frame(&mut &data[..0], &mut buf, limits(100), c).await.unwrap_err();
        assert!(matches!(err, FrameError::Closed));
        let huge = [2u8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let err = read_frame(&mut &huge[..], &mut buf, limits(128 << 20), c).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLong { .. }));
    }

    #[tokio::test]
    async fn buffer_grows_with_the_bytes_that_arrive() {
        // Declares 100 MiB, sends 1000 bytes: the buffer stays near what arrived.
        let mut data = vec![2u8, 3, 0, 0, 0x06, 0x40, 0, 0];
        data.extend_from_slice(&[7u8; 1000]);
        let mut buf = BytesMut::new();
        let err = read_frame(&mut &data[..], &mut buf, limits(128 << 20), &mut Charge::unlimited()).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { got: 1000, .. }), "{err}");
        assert!(buf.capacity() <= 2 * GROW_MIN, "capacity {}", buf.capacity());
    }

    #[tokio::test]
    async fn over_budget_and_stalled_frames_are_errors() {
        let mut data = vec![2u8, 3, 0, 0, 0, 0x10, 0, 0];
        data.extend_from_slice(&vec![1u8; 1 << 20]);
        let budget = crate::server::budget::Budget::new(256 * 1024);
        let mut buf = BytesMut::new();
        let err = read_frame(&mut &data[..], &mut buf, limits(128 << 20), &mut Charge::new(budget.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::OverBudget(_)), "{err}");
        assert_eq!(budget.used(), 0, "a dropped charge is given back");

        let (mut client, mut server) = tokio::io::duplex(64);
        use tokio::io::AsyncWriteExt as _;
        client.write_all(&[2u8, 3, 0, 0, 0, 0, 0, 9, 1, 2]).await.unwrap();
        let stall = FrameLimits { max_frame: 1024, stall: Some(Duration::from_millis(20)) };
        let err = read_frame(&mut server, &mut buf, stall, &mut Charge::unlimited()).await.unwrap_err();
        assert!(matches!(err, FrameError::Stalled { got: 2, want: 9, .. }), "{err}");
    }

    fn compress(inner: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(inner).unwrap();
        let z = enc.finish().unwrap();
        let mut body = (inner.len() as u64).to_be_bytes().to_vec();
        body.extend_from_slice(&z);
        body
    }

    #[test]
    fn inflate_valid_and_invalid() {
        let mut inner = BytesMut::new();
        put_header(&mut inner, MsgType::Message, 30);
        inner.extend_from_slice(&[7u8; 30]);
        assert_eq!(inflate(&compress(&inner), 1 << 20).unwrap(), vec![7u8; 30]);
        // Declared size disagrees with the stream.
        let mut bad = compress(&inner);
        bad[7] += 1;
        assert!(matches!(inflate(&bad, 1 << 20), Err(InflateError::SizeMismatch { .. })));
        assert_eq!(inflate(&[0, 0], 1 << 20), Err(InflateError::Short));
        let mut garbage = 38u64.to_be_bytes().to_vec();
        garbage.extend_from_slice(b"not zlib at all");
        assert_eq!(inflate(&garbage, 1 << 20), Err(InflateError::Corrupt));
        // Inner frame of the wrong type.
        let mut info = BytesMut::new();
        put_header(&mut info, MsgType::Info, 2);
        info.extend_from_slice(b"ab");
        assert_eq!(inflate(&compress(&info), 1 << 20), Err(InflateError::BadInner));
        assert!(matches!(inflate(&compress(&inner), 10), Err(InflateError::TooLong(38))));
    }
}
