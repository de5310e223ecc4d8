//! centinela: a Prometheus exporter and alerting sidecar for PostgreSQL.

/// Defines an error that is one message, for a boundary whose failures are described,
/// not matched on: `message_error! { /// doc\n Name }`. It converts from and into `String`,
/// so `?` and `format!` work across it.
macro_rules! message_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<String> for $name {
            fn from(message: String) -> Self {
                Self(message)
            }
        }

        impl From<&str> for $name {
            fn from(message: &str) -> Self {
                Self(message.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(e: $name) -> Self {
                e.0
            }
        }
    };
}
pub(crate) use message_error;

pub mod alerting;
pub mod app;
pub mod bounded;
pub mod cli;
pub mod collectors;
pub mod config;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod promql;
pub mod snapshot;
pub mod supervisor;
pub mod sync;
pub mod telemetry;
pub mod time;
