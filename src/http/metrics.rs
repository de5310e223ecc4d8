//! `GET /metrics`: the snapshot's pre-encoded bytes, never a query.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::Format;

/// `GET /metrics`: the exposition in the format asked for, gzip when accepted.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let chunks = state.snapshot.exposition(format);
    let length: usize = chunks.iter().map(bytes::Bytes::len).sum();
    let body = Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
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
