//! `Chains` on SQLite.

use rusqlite::{OptionalExtension, params};
use xietong_domain::UserId;
use xietong_domain::chain::Chain;
use xietong_domain::enclave::EnclaveBody;

use super::accounts::insert_audit;
use super::{SqliteStore, fmt_utc, now, parse_time};
use crate::chains::{chain_json, parse_chain, parse_enterprises};
use crate::{ChainEdit, Chains, Enclave, NewAudit, StoreError};

impl Chains for SqliteStore {
    fn chain_edits(&self) -> Result<Vec<ChainEdit>, StoreError> {
        self.read(|conn| {
            let rows: Vec<(String, i64, Option<i64>, String)> = conn
                .prepare_cached("SELECT body, version, updated_by, updated_at FROM chain_edits ORDER BY chain_id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(body, version, updated_by, updated_at)| {
                    Ok(ChainEdit {
                        chain: parse_chain(&body)?,
                        version,
                        updated_by: updated_by.map(UserId),
                        updated_at: parse_time(&updated_at)?,
                    })
                })
                .collect()
        })
    }

    fn save_chain_edit(
        &self,
        chain: &Chain,
        expected_version: i64,
        updated_by: Option<UserId>,
        audit: NewAudit,
    ) -> Result<ChainEdit, StoreError> {
        let body = chain_json(chain)?;
        self.write(|tx| {
            // The write transaction is the single writer, so the version read here stays current.
            let actual: i64 = tx
                .prepare_cached("SELECT version FROM chain_edits WHERE chain_id = ?1")?
                .query_row([&chain.id], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if actual != expected_version {
                return Err(StoreError::Stale {
                    what: format!("chain {}", chain.id),
                    expected: expected_version,
                    actual,
                });
            }
            let at = now();
            let version = actual + 1;
            tx.prepare_cached(
                "INSERT INTO chain_edits (chain_id, body, version, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (chain_id) DO UPDATE SET body = excluded.body, version = excluded.version,
                     updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            )?
            .execute(params![chain.id, body, version, updated_by.map(|u| u.0), fmt_utc(at)])?;
            insert_audit(tx, audit)?;
            Ok(ChainEdit { chain: chain.clone(), version, updated_by, updated_at: parse_time(&fmt_utc(at))? })
        })
    }

    fn create_enclave(
        &self,
        body: &EnclaveBody,
        created_by: Option<UserId>,
        audit: &dyn Fn(&Enclave) -> NewAudit,
    ) -> Result<Enclave, StoreError> {
        let enterprises = serde_json::to_string(&body.enterprises)
            .map_err(|e| StoreError::backend_caused("failed to serialize enclave enterprises", e))?;
        self.write(|tx| {
            let at = fmt_utc(now());
            tx.prepare_cached(
                "INSERT INTO enclaves (kind, name, home_region, host_region, host_park, enterprises, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                body.kind.as_str(),
                body.name,
                body.home_region,
                body.host_region,
                body.host_park,
                enterprises,
                created_by.map(|u| u.0),
                at
            ])?;
            let enclave =
                Enclave { id: tx.last_insert_rowid(), body: body.clone(), created_by, created_at: parse_time(&at)? };
            insert_audit(tx, audit(&enclave))?;
            Ok(enclave)
        })
    }

    fn enclaves(&self) -> Result<Vec<Enclave>, StoreError> {
        self.read(|conn| {
            type Row = (i64, String, String, String, String, String, String, Option<i64>, String);
            let rows: Vec<Row> = conn
                .prepare_cached(
                    "SELECT id, kind, name, home_region, host_region, host_park, enterprises, created_by, created_at
                     FROM enclaves ORDER BY id",
                )?
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, kind, name, home_region, host_region, host_park, enterprises, created_by, created_at)| {
                    Ok(Enclave {
                        id,
                        body: EnclaveBody {
                            kind: kind.parse().map_err(StoreError::backend)?,
                            name,
                            home_region,
                            host_region,
                            host_park,
                            enterprises: parse_enterprises(&enterprises)?,
                        },
                        created_by: created_by.map(UserId),
                        created_at: parse_time(&created_at)?,
                    })
                })
                .collect()
        })
    }
}
