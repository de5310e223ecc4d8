//! `GET /metrics`: the snapshot's pre-encoded bytes, never a query.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::Format;

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
    let length: usize = chunks.iter().map(bytes::Bytes::len).sum();
    // The permit is held until the body is sent (or the client goes away).
    let body = Body::from_stream(futures_util::stream::iter(chunks.into_iter().map(
        move |c| {
            let _held = &permit;
            Ok::<_, Infallible>(c)
        },
    )));
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, format.content_type().to_owned()),
            (CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )
        .into_response()
}
