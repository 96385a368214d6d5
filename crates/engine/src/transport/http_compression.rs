//! HTTP compression of long-polling answers, as Node's `httpCompression` does: gzip or
//! deflate, whichever the request's `Accept-Encoding` allows (gzip first, as Node prefers
//! it), for answers of at least the configured threshold (1 KiB by default). Chat-like
//! JSON shrinks several times, which a client on a slow link feels on every poll; below
//! the threshold the bytes saved do not pay for the work.
//!
//! Only polling answers: a WebSocket compresses with permessage-deflate or not at all,
//! and the engine's other answers (handshakes, errors, "ok") are a few bytes.

use bytes::Bytes;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use http::header::ACCEPT_ENCODING;
use http::HeaderMap;
use std::io::Write;

/// A content coding the engine writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    /// HTTP's `deflate` is the zlib format (RFC 9110), which is what Node writes too.
    Deflate,
}

impl Coding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding `headers` accept, in the server's order of preference; `None` when the
/// client accepts neither (or sent no `Accept-Encoding`, which asks for none).
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut weights = [None::<f32>; 2];
    let mut any = None::<f32>;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = if name.eq_ignore_ascii_case("gzip") {
                &mut weights[0]
            } else if name.eq_ignore_ascii_case("deflate") {
                &mut weights[1]
            } else if name == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = Some(q);
        }
    }
    // A coding not named takes `*`'s weight, and none at all without `*`.
    let gzip = weights[0].or(any).unwrap_or(0.0);
    let deflate = weights[1].or(any).unwrap_or(0.0);
    if gzip <= 0.0 && deflate <= 0.0 {
        None
    } else if deflate > gzip {
        // The client ranks deflate higher; at equal rank gzip, as Node picks it.
        Some(Coding::Deflate)
    } else {
        Some(Coding::Gzip)
    }
}

/// `body` in `coding`, at zlib's default level (Node's too).
pub(crate) fn compress(coding: Coding, body: &[u8]) -> Bytes {
    // Writing into a Vec cannot fail.
    let out = Vec::with_capacity(body.len() / 3 + 32);
    let out = match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(out, Compression::default());
            let _ = encoder.write_all(body);
            encoder.finish()
        }
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(out, Compression::default());
            let _ = encoder.write_all(body);
            encoder.finish()
        }
    };
    Bytes::from(out.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, ZlibDecoder};
    use http::HeaderValue;
    use std::io::Read;

    fn accepting(value: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn the_coding_follows_accept_encoding() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(accepting("gzip, deflate, br, zstd"), Some(Coding::Gzip));
        assert_eq!(accepting("deflate"), Some(Coding::Deflate));
        assert_eq!(accepting("gzip;q=0, deflate"), Some(Coding::Deflate));
        assert_eq!(
            accepting("gzip;q=0.5, deflate;q=0.8"),
            Some(Coding::Deflate)
        );
        assert_eq!(accepting("br, identity"), None);
        assert_eq!(accepting("*"), Some(Coding::Gzip));
        assert_eq!(accepting("*;q=0"), None);
        assert_eq!(accepting("*, gzip;q=0"), Some(Coding::Deflate));
        assert_eq!(accepting("GZIP"), Some(Coding::Gzip));
    }

    #[test]
    fn both_codings_decode_back() {
        let body = "4[\"message\",\"hello\"]\u{1e}".repeat(100);
        let mut plain = String::new();
        GzDecoder::new(&compress(Coding::Gzip, body.as_bytes())[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        plain.clear();
        ZlibDecoder::new(&compress(Coding::Deflate, body.as_bytes())[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        assert!(compress(Coding::Gzip, body.as_bytes()).len() < body.len() / 5);
    }
}
