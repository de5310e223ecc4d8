//! Login roles whose password expires (`rolvaliduntil`), read once per `postgres_tables`
//! run (roles are cluster-wide): an expired password locks the application out.

use sqlx::postgres::PgConnection;

use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    PASSWORD_EXPIRY: "pg_role_password_expiry_timestamp_seconds", Gauge, ["rolname"],
        "When the login role's password stops being accepted (pg_roles.rolvaliduntil, Unix seconds); only roles that can log in and have an expiry.";
}

const SQL: &str = "
SELECT rolname::text, extract(epoch FROM rolvaliduntil)::float8
FROM pg_roles
WHERE rolcanlogin AND rolvaliduntil IS NOT NULL AND rolvaliduntil <> 'infinity'
ORDER BY rolname";

/// The login roles with an expiring password.
pub async fn read(conn: &mut PgConnection) -> Result<Batch, PgError> {
    let rows: Vec<(String, f64)> = sqlx::query_as(SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| PgError::query("roles", &e))?;
    let mut b = Batch::default();
    for (role, until) in &rows {
        b.push(&PASSWORD_EXPIRY, labels([("rolname", role)]), *until);
    }
    Ok(b)
}
