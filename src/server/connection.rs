//! One client connection: read a frame, answer it, repeat — strictly one request then its full
//! response, as every client expects. On a server with `--user`, nothing but a login is served
//! before one succeeds: info requests get `ERROR:80:not authenticated` and data requests result
//! code 80, on an intact connection, as a secured Aerospike server answers them. A frame that cannot be read (bad version or type, over the
//! size limit, truncated) ends this connection only; a message that does not parse is answered
//! with PARAMETER_ERROR and the connection stays open. What a connection holds is bounded: its
//! request buffer is charged to the server's budget as it grows, and every reply is either small
//! (one record, a bounded info reply) or streamed frame by frame (batches, scans).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::Shared;
use super::admin;
use super::batch::{parse_batch, stream_batch};
use super::budget::Charge;
use super::framing::{FrameError, HEADER_LEN, MsgType, inflate, patch_header, put_header, read_frame};
use super::info::{self, ConnContext};
use super::message::{Message, ReplyHeader, field, info1, info3, put_reply_header, rc};
use super::record::{RecordRequest, execute, put_rc_only};
use super::scan::stream_scan_of;
use super::store::partition_id;

/// Buffers grown past this by one large request are given back once it is answered.
const KEEP_CAPACITY: usize = 1 << 20;

/// Serves one accepted connection (plain TCP or TLS) until the peer closes it or breaks a rule.
pub async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
) {
    let ctx = ConnContext { local, budget: shared.budget.clone() };
    let mut charge = Charge::new(shared.budget.clone());
    let mut stream = BufReader::with_capacity(16 * 1024, stream);
    let mut body = BytesMut::new();
    let mut out = BytesMut::new();
    // A server without --user has no logins to wait for.
    let mut authenticated = shared.security.is_none();
    loop {
        let kind = match read_frame(&mut stream, &mut body, shared.limits, &mut charge).await {
            Ok(kind) => kind,
            Err(FrameError::Closed) => return,
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => {
                shared.log(format_args!("{peer}: closing connection: {e}"));
                return;
            }
        };
        if shared.identity.cluster.is_down(shared.identity.index) {
            // This node has been taken out of the cluster (`--fail-node`): it answers nothing.
            return;
        }
        out.clear();
        let result = match kind {
            MsgType::Info if !authenticated => {
                // A secured server answers an info request before the login with this one line,
                // whatever it asked, and keeps the connection (as Aerospike's `thr_info.c`).
                put_header(&mut out, MsgType::Info, info::NOT_AUTHENTICATED.len());
                out.extend_from_slice(info::NOT_AUTHENTICATED.as_bytes());
                stream.get_mut().write_all(&out).await
            }
            MsgType::Info => {
                let reply = info::handle(&body, &shared.identity, &shared.store, &ctx, info::MAX_REPLY);
                put_header(&mut out, MsgType::Info, reply.len());
                out.extend_from_slice(&reply);
                stream.get_mut().write_all(&out).await
            }
            MsgType::Admin => {
                let reply = admin::reply(&body, shared.security.as_ref(), &mut authenticated);
                put_header(&mut out, MsgType::Admin, reply.len());
                out.extend_from_slice(&reply);
                stream.get_mut().write_all(&out).await
            }
            MsgType::Message | MsgType::Compressed if !authenticated => {
                reply_error(&mut out, stream.get_mut(), admin::NOT_AUTHENTICATED).await
            }
            MsgType::Message => {
                shared.delay.hold().await;
                dispatch(&body, &shared, peer, &mut out, stream.get_mut()).await
            }
            MsgType::Compressed => match inflate(&body, shared.limits.max_frame) {
                Ok(inner) => {
                    shared.delay.hold().await;
                    dispatch(&inner, &shared, peer, &mut out, stream.get_mut()).await
                }
                Err(e) => {
                    shared.log(format_args!("{peer}: bad compressed request: {e}"));
                    reply_error(&mut out, stream.get_mut(), rc::PARAMETER_ERROR).await
                }
            },
        };
        if let Err(e) = result {
            if e.kind() != std::io::ErrorKind::BrokenPipe && e.kind() != std::io::ErrorKind::ConnectionReset {
                shared.log(format_args!("{peer}: write failed: {e}"));
            }
            return;
        }
        if body.capacity() > KEEP_CAPACITY {
            body = BytesMut::new();
        }
        if out.capacity() > KEEP_CAPACITY {
            out = BytesMut::new();
        }
        // Shrinking never fails.
        let _ = charge.cover(body.capacity());
    }
}

/// A reply made of one header carrying `code`, marked LAST so that stream readers stop too.
async fn reply_error<W: AsyncWrite + Unpin>(out: &mut BytesMut, w: &mut W, code: u8) -> std::io::Result<()> {
    out.clear();
    put_header(out, MsgType::Message, super::message::MSG_HEADER_LEN);
    put_reply_header(out, &ReplyHeader { result_code: code, info3: info3::LAST, ..Default::default() });
    w.write_all(out).await
}

/// Routes one AS_MSG to the batch, single-record or scan handler and sends its reply.
async fn dispatch<W: AsyncWrite + Unpin>(
    body: &[u8],
    shared: &Shared,
    peer: SocketAddr,
    out: &mut BytesMut,
    w: &mut W,
) -> std::io::Result<()> {
    let msg = match Message::parse(body) {
        Ok(m) => m,
        Err(e) => {
            shared.log(format_args!("{peer}: malformed message: {e}"));
            return reply_error(out, w, rc::PARAMETER_ERROR).await;
        }
    };
    let store = &shared.store;
    let (cluster, node) = (&shared.identity.cluster, shared.identity.index);
    let counters = cluster.counters(node);
    if msg.fields.has(field::BATCH_INDEX) || msg.header.info1 & info1::BATCH != 0 {
        match parse_batch(&msg) {
            Ok(batch) => {
                let (mut keys, mut proxied) = (0, 0);
                for (pid, write) in batch.row_partitions() {
                    keys += 1;
                    proxied += u64::from(!cluster.serves(node, pid, write));
                }
                counters.batch(keys, proxied);
                stream_batch(store, &batch, out, w).await
            }
            Err(e) => {
                shared.log(format_args!("{peer}: malformed batch: {e}"));
                reply_error(out, w, rc::PARAMETER_ERROR).await
            }
        }
    } else if msg.fields.has(field::DIGEST) || msg.fields.has(field::KEY) {
        out.extend_from_slice(&[0; HEADER_LEN]);
        match RecordRequest::from_message(&msg) {
            Ok(req) => {
                let write = req.info2 & super::message::info2::WRITE != 0;
                counters.record(!cluster.serves(node, partition_id(&req.digest), write));
                execute(store, &req, 0, out);
            }
            Err(code) => put_rc_only(out, code),
        }
        patch_header(out, 0, MsgType::Message);
        w.write_all(out).await
    } else if msg.fields.has(field::NAMESPACE) {
        let refused = stream_scan_of(store, &msg, &|p| cluster.master(p) == node, out, w).await?;
        counters.scan(refused);
        Ok(())
    } else {
        shared.log(format_args!("{peer}: message with no namespace, digest or batch field"));
        reply_error(out, w, rc::PARAMETER_ERROR).await
    }
}
