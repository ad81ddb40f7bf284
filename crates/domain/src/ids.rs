//! Ids of account records: numbers the store assigns, typed so that a user id cannot be passed
//! where an organisation id is meant. They serialise as plain numbers, and are `INTEGER` values in
//! SQLite (feature `sqlite`) and `INT8` values in PostgreSQL (feature `postgres`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }

        #[cfg(feature = "sqlite")]
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.0))
            }
        }

        #[cfg(feature = "sqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        /// An `INT8` (`BIGINT`) value.
        #[cfg(feature = "postgres")]
        impl postgres_types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres_types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <i64 as postgres_types::ToSql>::accepts(ty)
            }

            postgres_types::to_sql_checked!();
        }

        /// From an `INT8` (`BIGINT`) column.
        #[cfg(feature = "postgres")]
        impl<'a> postgres_types::FromSql<'a> for $name {
            fn from_sql(
                ty: &postgres_types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <i64 as postgres_types::FromSql>::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <i64 as postgres_types::FromSql>::accepts(ty)
            }
        }
    };
}

record_id!(
    /// Id of a user account.
    UserId
);
record_id!(
    /// Id of a registered organisation.
    OrgId
);

#[cfg(all(test, feature = "postgres"))]
mod postgres_tests {
    use postgres_types::{FromSql, ToSql, Type};

    use super::*;

    #[test]
    fn ids_are_int8_values() {
        let mut buffer = bytes::BytesMut::new();
        UserId(-7).to_sql_checked(&Type::INT8, &mut buffer).unwrap();
        assert_eq!(&buffer[..], &(-7i64).to_be_bytes());
        assert_eq!(OrgId::from_sql(&Type::INT8, &buffer).unwrap(), OrgId(-7));
        assert!(<UserId as ToSql>::accepts(&Type::INT8));
        assert!(!<UserId as ToSql>::accepts(&Type::TEXT));
        assert!(UserId(1).to_sql_checked(&Type::INT4, &mut buffer).is_err(), "no silent narrowing");
    }
}
