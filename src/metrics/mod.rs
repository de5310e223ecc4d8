//! Metric model, catalogue and exposition encoding.

pub mod catalog;
pub mod encode;
pub mod sample;

pub use encode::Format;
pub use sample::{labels, valid_name, Batch, Family, Labels, MetricDesc, MetricKind, Sample};
