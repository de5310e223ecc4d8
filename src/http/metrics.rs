//! `GET /metrics`: the snapshot's pre-encoded bytes, never a query. Gzip, which Prometheus
//! always asks for, is made once per change of the exposition and served from memory to
//! every scrape until the next change, so many scrapers cost no more CPU than one.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, VARY,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::AppState;
use crate::metrics::Format;

/// The last gzip body of each format, with the chunks it was made from.
#[derive(Debug, Default)]
pub struct GzipCache {
    last: tokio::sync::Mutex<Vec<(Format, Vec<Bytes>, Bytes)>>,
}

/// Whether `a` and `b` hold the same exposition: the collectors' chunks are shared bytes
/// (the same allocation until their next run); the first, centinela's own metrics, is
/// encoded per scrape and compared by content.
fn same(a: &[Bytes], b: &[Bytes]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).enumerate().all(|(i, (x, y))| {
            if i == 0 {
                x == y
            } else {
                x.as_ptr() == y.as_ptr() && x.len() == y.len()
            }
        })
}

impl GzipCache {
    /// `chunks` gzip-compressed, from memory when they have not changed.
    async fn get(&self, format: Format, chunks: Vec<Bytes>) -> std::io::Result<Bytes> {
        // One scrape compresses while the others wait for its result.
        let mut last = self.last.lock().await;
        if let Some((_, _, body)) = last
            .iter()
            .find(|(f, c, _)| *f == format && same(c, &chunks))
        {
            return Ok(body.clone());
        }
        let input = chunks.clone();
        let body = tokio::task::spawn_blocking(move || {
            let size: usize = input.iter().map(Bytes::len).sum();
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(size / 8),
                flate2::Compression::fast(),
            );
            for c in &input {
                gz.write_all(c)?;
            }
            gz.finish().map(Bytes::from)
        })
        .await
        .map_err(std::io::Error::other)??;
        last.retain(|(f, _, _)| *f != format);
        last.push((format, chunks, body.clone()));
        Ok(body)
    }
}

/// Whether the client takes gzip (`Accept-Encoding`, a `q=0` refusal honoured).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused =
                parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// `GET /metrics`: the exposition in the format asked for, gzip when accepted. At most
/// `server.max_concurrent_scrapes` responses are in flight; beyond, 503 with Retry-After.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(permit) = Arc::clone(&state.scrapes).try_acquire_owned() else {
        state.snapshot.count_rejected("scrape_limit");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(RETRY_AFTER, "1")],
            "too many scrapes in flight (server.max_concurrent_scrapes)\n",
        )
            .into_response();
    };
    let format = Format::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let chunks = state.snapshot.exposition(format);
    let content_type = format.content_type().to_owned();
    if accepts_gzip(&headers) {
        match state.gzip.get(format, chunks.clone()).await {
            Ok(body) => {
                let length = body.len().to_string();
                // The permit is held until the body is sent (or the client goes away).
                let body = Body::from_stream(futures_util::stream::once(async move {
                    let _held = permit;
                    Ok::<_, Infallible>(body)
                }));
                return (
                    StatusCode::OK,
                    [
                        (CONTENT_TYPE, content_type),
                        (CONTENT_ENCODING, "gzip".to_owned()),
                        (CONTENT_LENGTH, length),
                        (VARY, "Accept-Encoding".to_owned()),
                    ],
                    body,
                )
                    .into_response();
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot compress the exposition; sending it plain.");
            }
        }
    }
    let length: usize = chunks.iter().map(Bytes::len).sum();
    let body = Body::from_stream(futures_util::stream::iter(chunks.into_iter().map(
        move |c| {
            let _held = &permit;
            Ok::<_, Infallible>(c)
        },
    )));
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_LENGTH, length.to_string()),
            (VARY, "Accept-Encoding".to_owned()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(ACCEPT_ENCODING, v.parse().unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip"));
        assert!(h("identity, GZIP;q=0.5"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn the_same_exposition_is_compressed_once() {
        let cache = GzipCache::default();
        let big = Bytes::from(vec![b'x'; 100_000]);
        let chunks = || vec![Bytes::from_static(b"self 1\n"), big.clone()];
        let a = cache.get(Format::Text, chunks()).await.unwrap();
        let b = cache.get(Format::Text, chunks()).await.unwrap();
        assert_eq!(a.as_ptr(), b.as_ptr(), "served from memory");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[..]), &mut text)
            .unwrap();
        assert_eq!(text.len(), 7 + 100_000);
        // Self-metrics that changed make a new body.
        let c = cache
            .get(
                Format::Text,
                vec![Bytes::from_static(b"self 2\n"), big.clone()],
            )
            .await
            .unwrap();
        assert_ne!(a.as_ptr(), c.as_ptr());
    }
}
